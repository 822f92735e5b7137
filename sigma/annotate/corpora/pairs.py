"""The project's own pair format (``manifest.jsonl``, local or ``s3://``) as a corpus."""

from __future__ import annotations

from collections.abc import Iterator

from sigma.annotate.corpora.base import register_corpus
from sigma.data.pairs import EditPair, iter_pairs


@register_corpus("pairs")
def read_pairs(root: str) -> Iterator[EditPair]:
    """Every pair of the manifest, streamed line by line."""
    return iter_pairs(root)
