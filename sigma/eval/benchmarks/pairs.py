"""Any dataset in the project's pair format (``manifest.jsonl``) is a benchmark."""

from __future__ import annotations

from collections.abc import Iterator

from sigma.data.pairs import EditPair, iter_lenient
from sigma.eval.benchmarks.base import register_benchmark


@register_benchmark("pairs")
def load_pairs(root: str) -> Iterator[EditPair]:
    """Pairs of a dataset folder or manifest (local or ``s3://``) that carry a ground-truth mask,
    streamed; a bad line comes as a stand-in that the evaluation rejects with its line and reason,
    as ``sigma annotate`` does (:func:`sigma.data.pairs.iter_lenient`)."""
    return (pair for pair in iter_lenient(root) if pair.mask or (pair.model_extra or {}).get("invalid_reason"))
