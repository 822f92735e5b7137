"""The training tests share the root conftest's tiny project (tests/conftest.py)."""
