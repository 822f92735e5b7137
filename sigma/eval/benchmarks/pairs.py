"""Any dataset in the project's pair format (``manifest.jsonl``) is a benchmark."""

from __future__ import annotations

from collections.abc import Iterator

from sigma.data.pairs import EditPair, read_manifest
from sigma.eval.benchmarks.base import register_benchmark


@register_benchmark("pairs")
def load_pairs(root: str) -> Iterator[EditPair]:
    """Pairs of a dataset folder or manifest (local or ``s3://``) that carry a ground-truth mask."""
    yield from (pair for pair in read_manifest(root) if pair.mask)
