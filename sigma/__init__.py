"""SIGMA: semantic-difference, instruction-grounded mask annotator for text-driven image edits."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sigma-annotator")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
