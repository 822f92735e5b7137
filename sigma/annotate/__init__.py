"""SIGMA annotate layer."""
