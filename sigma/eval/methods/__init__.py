"""Evaluation methods by name (``sigma evaluate --method``, ``evaluate.methods`` in params.yaml)."""

from sigma.eval.methods import detector, pixdiff, sigma_model  # noqa: F401  (register the methods)
from sigma.eval.methods.base import Method, Prediction, build_method, list_methods, method_entry

__all__ = ["Method", "Prediction", "build_method", "list_methods", "method_entry"]
