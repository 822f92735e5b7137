"""The project's own pair format (``manifest.jsonl``, local or ``s3://``) as a corpus."""

from __future__ import annotations

from collections.abc import Iterator

from sigma.annotate.corpora.base import register_corpus
from sigma.data.pairs import EditPair, iter_lenient


@register_corpus("pairs")
def read_pairs(root: str) -> Iterator[EditPair]:
    """Every pair of the manifest, streamed line by line; a bad line (not JSON, not an object,
    missing or mistyped keys, a path leaving the corpus folder) is rejected by the run with its line
    and reason, never a stop (:func:`sigma.data.pairs.iter_lenient`)."""
    return iter_lenient(root)
