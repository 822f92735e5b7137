"""The project's own pair format (``manifest.jsonl``, local or ``s3://``) as a corpus."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from sigma.annotate.corpora.base import register_corpus
from sigma.annotate.corpora.common import invalid_pair
from sigma.data import storage
from sigma.data.pairs import EditPair, ManifestError, manifest_rows, manifest_uri, parse_pair

PATH_KEYS = ("original", "edited", "mask", "side_effect_mask")


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
        climbing = [key for key in PATH_KEYS if climbs_out(getattr(pair, key))]
        if climbing:
            reason = f"{', '.join(climbing)} path leads outside the corpus folder (relative paths must stay inside it)"
            pair = pair.model_copy(update={"invalid_reason": reason})
        yield pair.resolve(folder).model_copy(update={"line": lineno})


def climbs_out(path: str | None) -> bool:
    """A relative path that leaves the manifest's folder (``../x``, ``a/../../x``). Absolute paths
    and URIs are the corpus author's explicit choice and pass."""
    if not path or storage.is_s3(path) or posixpath.isabs(path) or "://" in path:
        return False
    return posixpath.normpath(path.replace("\\", "/")).startswith("..")
