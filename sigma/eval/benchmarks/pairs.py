"""Any dataset in the project's pair format (``manifest.jsonl``) is a benchmark."""

from __future__ import annotations

from collections.abc import Iterator

from sigma.data import storage
from sigma.data.pairs import (
    EditPair,
    ManifestError,
    invalid_pair,
    manifest_rows,
    manifest_uri,
    parse_pair,
    paths_outside,
)
from sigma.eval.benchmarks.base import register_benchmark


@register_benchmark("pairs")
def load_pairs(root: str) -> Iterator[EditPair]:
    """Pairs of a dataset folder or manifest (local or ``s3://``) that carry a ground-truth mask,
    streamed. A line that is not a valid pair comes as an invalid stand-in that the evaluation
    rejects with its line number and reason, as ``sigma annotate`` does."""
    uri = manifest_uri(root)
    folder = storage.parent(uri)
    for lineno, row in manifest_rows(root):
        try:
            if isinstance(row, str):
                raise ManifestError(row)
            pair = parse_pair(row)
        except ManifestError as exc:
            yield invalid_pair("manifest", lineno, str(exc), where=uri + ": ")
            continue
        if pair.mask:
            outside = paths_outside(pair)
            yield pair.resolve(folder).model_copy(update={"invalid_reason": outside} if outside else {})
