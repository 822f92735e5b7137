"""The edit-pair format: the contract every stage reads and writes.

A dataset is a folder (local or ``s3://``) holding ``manifest.jsonl``, one :class:`EditPair` per
line. Paths inside are relative to the manifest's folder, absolute, or ``s3://`` URIs. Keys the
schema does not name are kept and written back untouched.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from sigma.data import storage

MANIFEST = "manifest.jsonl"
EDIT_TYPES = ("add", "remove", "replace", "attribute_change", "copy_move", "global", "none", "other")
SYNTH_KINDS = (
    "inpaint",
    "edit",
    "calib",
    "dev",
    "downstream",
    "dev_large",
)  # the ``kind`` key of pairs sigma.data.synth writes
EditType = Literal["add", "remove", "replace", "attribute_change", "copy_move", "global", "none", "other"]


class ManifestError(ValueError):
    """A manifest line that is not a valid edit pair."""


class EditPair(BaseModel):
    """One (original, edited, instruction[, mask]) record of ``manifest.jsonl``."""

    model_config = ConfigDict(extra="allow")

    id: str
    original: str
    edited: str
    mask: str | None = None
    side_effect_mask: str | None = None  # the unintended part of ``mask``, where known (synthetic pairs)
    instruction: str = ""
    edit_type: EditType | None = None
    source: str | None = None
    split: str | None = None

    @field_validator("id", "original", "edited")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("instruction", mode="before")
    @classmethod
    def _none_is_empty(cls, value: str | None) -> str:
        return "" if value is None else value

    def resolve(self, root: str) -> EditPair:
        """Copy with ``original``/``edited``/``mask`` made absolute against the dataset ``root``."""
        paths = {k: storage.join(root, getattr(self, k)) for k in ("original", "edited")}
        for key in ("mask", "side_effect_mask"):
            if getattr(self, key):
                paths[key] = storage.join(root, getattr(self, key))
        return self.model_copy(update=paths)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(exclude_none=False), ensure_ascii=False, sort_keys=False)


def manifest_uri(dataset: str) -> str:
    """A dataset folder or a manifest path -> the manifest's URI."""
    return dataset if dataset.endswith(".jsonl") else storage.join(dataset, MANIFEST)


def manifest_rows(dataset: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """``(line_number, object)`` per non-blank line, streamed, or ``(line_number, why)`` for a line
    that is not a UTF-8 JSON object. A UTF-8 byte-order mark (spreadsheet and Windows exports) and
    CRLF line ends are accepted."""
    uri = manifest_uri(dataset)
    for lineno, raw in enumerate(storage.iter_lines(uri), start=1):
        try:
            line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            yield lineno, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield lineno, f"not valid JSON ({exc.msg})"
            continue
        yield lineno, obj if isinstance(obj, dict) else f"expected a JSON object, got {type(obj).__name__}"


def iter_manifest_lines(dataset: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, raw_object)``, streamed; raises :class:`ManifestError` on a bad line
    (training and validation data must be whole; corpus annotation rejects bad lines instead)."""
    uri = manifest_uri(dataset)
    for lineno, row in manifest_rows(dataset):
        if isinstance(row, str):
            raise ManifestError(f"{uri}:{lineno}: {row}")
        yield lineno, row


def invalid_pair(
    name: str, lineno: int, reason: str, split: str | None = None, where: str = "", label: str | None = None
) -> EditPair:
    """The stand-in for a bad row of a corpus or benchmark: ``original``/``edited`` ``"invalid"``
    and ``invalid_reason`` set, which the annotation run and the evaluation reject with that
    reason instead of stopping. ``label`` replaces ``line-<n>`` in the id where a corpus's records
    are not lines (MagicBrush sessions)."""
    return EditPair(
        id=f"{name}/{split + '/' if split else ''}{label or f'line-{lineno}'}",
        original="invalid",
        edited="invalid",
        source=name,
        split=split,
        corpus=name,
        invalid_reason=f"{where}line {lineno}: {reason}" if where else reason,
    )


PATH_KEYS = ("original", "edited", "mask", "side_effect_mask")


def climbs_out(path: str | None) -> bool:
    """A relative path that leaves the manifest's folder (``../x``, ``a/../../x``). Absolute paths
    and URIs are the dataset author's explicit choice and pass."""
    if not path or storage.is_s3(path) or posixpath.isabs(path) or "://" in path:
        return False
    return posixpath.normpath(path.replace("\\", "/")).startswith("..")


def paths_outside(pair: EditPair) -> str | None:
    """Why ``pair`` (unresolved) reads outside its dataset's folder, or None when it does not."""
    keys = [key for key in PATH_KEYS if climbs_out(getattr(pair, key))]
    if not keys:
        return None
    return f"{', '.join(keys)} path leads outside the corpus folder (relative paths must stay inside it)"


def parse_pair(obj: dict, where: str = "") -> EditPair:
    try:
        return EditPair.model_validate(obj)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ManifestError(f"{where}invalid edit pair: {problems}") from None


def iter_lenient(dataset: str) -> Iterator[EditPair]:
    """The pairs of a manifest, streamed and resolved, each carrying its ``line``; a line that is
    not a valid pair, or whose relative paths leave the dataset's folder, comes as an invalid
    stand-in (:func:`invalid_pair`) to be rejected with its line and reason, never raised."""
    uri = manifest_uri(dataset)
    folder = storage.parent(uri)
    for lineno, row in manifest_rows(dataset):
        try:
            if isinstance(row, str):
                raise ManifestError(row)
            pair = parse_pair(row)
        except ManifestError as exc:
            yield invalid_pair("manifest", lineno, str(exc), where=uri + ": ")
            continue
        outside = paths_outside(pair)
        update: dict[str, Any] = {"line": lineno, **({"invalid_reason": outside} if outside else {})}
        yield pair.resolve(folder).model_copy(update=update)


def iter_pairs(dataset: str, *, resolve: bool = True) -> Iterator[EditPair]:
    """The pairs of a dataset one at a time (paths resolved against its folder): a corpus of any
    size streams through in flat memory."""
    uri = manifest_uri(dataset)
    root = storage.parent(uri)
    for lineno, obj in iter_manifest_lines(dataset):
        pair = parse_pair(obj, f"{uri}:{lineno}: ")
        yield pair.resolve(root) if resolve else pair


def read_manifest(dataset: str, *, resolve: bool = True) -> list[EditPair]:
    """All pairs of a dataset, paths resolved against its folder (``resolve=False`` keeps them)."""
    return list(iter_pairs(dataset, resolve=resolve))


def write_manifest(dataset: str, pairs: Iterable[EditPair]) -> str:
    """Write ``manifest.jsonl`` atomically; returns its URI."""
    uri = manifest_uri(dataset)
    body = "".join(p.to_json() + "\n" for p in pairs)
    storage.write_bytes_atomic(uri, body.encode("utf-8"))
    return uri
