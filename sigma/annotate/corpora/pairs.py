"""The project's own pair format (``manifest.jsonl``, local or ``s3://``) as a corpus."""

from __future__ import annotations

from collections.abc import Iterator

from sigma.annotate.corpora.base import register_corpus
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


@register_corpus("pairs")
def read_pairs(root: str) -> Iterator[EditPair]:
    """Every pair of the manifest, streamed line by line, each carrying its ``line``. A line that is
    not a valid pair (not JSON, not an object, missing or mistyped keys) comes as an invalid
    stand-in that the run rejects with the line number and the reason: it never stops the run."""
    uri = manifest_uri(root)
    folder = storage.parent(uri)
    for lineno, row in manifest_rows(root):
        if isinstance(row, str):
            yield invalid_pair("manifest", lineno, row, where=uri + ": ")
            continue
        try:
            pair = parse_pair(row)
        except ManifestError as exc:
            yield invalid_pair("manifest", lineno, str(exc), where=uri + ": ")
            continue
        outside = paths_outside(pair)
        if outside:
            pair = pair.model_copy(update={"invalid_reason": outside})
        yield pair.resolve(folder).model_copy(update={"line": lineno})
