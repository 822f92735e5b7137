"""What the corpus readers share: finding a corpus's metadata files, streaming their rows, turning a
row into a resolved :class:`~sigma.data.pairs.EditPair`, and the one rule for bad rows.

**Metadata discovery.** A root is a metadata file itself (``.jsonl`` / ``.csv``) or a folder holding
``metadata.jsonl`` / ``metadata.csv`` directly and/or in split folders (``train/``, ``validation/``,
``val/``, ``dev/``, ``test/``) — the Hugging Face ``imagefolder`` convention, which is also the most
natural shape for a corpus published as parquet once its rows are exported (image columns written
as files, the other columns as one metadata row per pair). Found by existence checks, never by
listing the root: a corpus of millions of images is not enumerated. Paths in a row are relative to
the metadata file's folder (absolute paths and ``s3://`` URIs pass through).

**Image columns.** For an image column ``C`` the row may hold a path string in ``C``, a
``{"path": ...}`` object in ``C`` (what ``datasets`` writes for an undecoded image), or a path in
``C_file_name`` / ``C_path``.

**Bad rows.** Nothing is raised or skipped silently: a row that is not valid JSON / UTF-8, not an
object, has the wrong number of CSV fields or lacks an original or edited image path is yielded as
``EditPair(id="<name>/[<split>/]line-<n>", original="invalid", edited="invalid",
invalid_reason=...)``, which the annotation run rejects with that reason
(``sigma/annotate/shard.py``). Whether the image files exist is not checked here either: the run
rejects unreadable files itself.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from sigma.annotate.corpora.base import CorpusLayoutError
from sigma.data import storage
from sigma.data.pairs import EditPair, invalid_pair
from sigma.eval.benchmarks.layout import absolute_root

SPLITS = ("train", "validation", "val", "dev", "test")
METADATA_NAMES = ("metadata.jsonl", "metadata.csv")
TABLE_SUFFIXES = (".jsonl", ".csv")


def layout_error(name: str, root: str, expected: str) -> CorpusLayoutError:
    return CorpusLayoutError(f"{name}: {root} does not hold the expected layout: {expected}")


def find_metadata(name: str, root: str, expected: str) -> list[tuple[str, str | None]]:
    """``(uri, split)`` of every metadata file of ``root`` (see the module doc); raises
    :class:`CorpusLayoutError` naming ``expected`` when there is none."""
    root = absolute_root(root)
    if root.lower().endswith(TABLE_SUFFIXES):
        if not storage.exists(root):
            raise layout_error(name, root, f"an existing metadata file ({expected})")
        return [(root, None)]
    found = [
        (storage.join(root, f"{split}/{meta}" if split else meta), split)
        for split in (None, *SPLITS)
        for meta in METADATA_NAMES
    ]
    found = [(uri, split) for uri, split in found if storage.exists(uri)]
    if not found:
        raise layout_error(name, root, f"{'|'.join(METADATA_NAMES)} in the root or in {'|'.join(SPLITS)}/ ({expected})")
    return found


def iter_rows(uri: str) -> Iterator[tuple[int, dict | str]]:
    """``(line_number, row)`` for each non-blank row of a JSONL or CSV file, streamed through
    :func:`storage.iter_lines`; a row that cannot be parsed comes as ``(n, "why")``."""
    lines = storage.iter_lines(uri)
    if uri.lower().endswith(".csv"):
        # utf-8-sig on the first line: a byte-order mark (spreadsheet exports) is not part of the header.
        reader = csv.reader(
            line.decode("utf-8-sig" if i == 0 else "utf-8", errors="replace") + "\n" for i, line in enumerate(lines)
        )
        header = next(reader, None) or []
        for fields in reader:
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                yield reader.line_num, f"expected {len(header)} CSV fields, got {len(fields)}"
            else:
                yield reader.line_num, dict(zip(header, fields, strict=True))
        return
    for lineno, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            yield lineno, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
            continue
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield lineno, f"not valid JSON ({exc.msg})"
            continue
        yield lineno, row if isinstance(row, dict) else f"expected a JSON object, got {type(row).__name__}"


def image_ref(row: dict, *columns: str) -> str | None:
    """The first image path found under ``columns`` (see *Image columns* in the module doc)."""
    for column in columns:
        for key in (column, f"{column}_file_name", f"{column}_path"):
            value = row.get(key)
            if isinstance(value, dict):
                value = value.get("path")
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def first_value(row: dict, *columns: str):
    """The first non-empty value under ``columns`` (None if there is none)."""
    return next((row[c] for c in columns if row.get(c) not in (None, "", [])), None)


def row_id(row: dict, columns: tuple[str, ...]) -> str | None:
    """The first id found under ``columns``; ``"a+b"`` joins columns ``a`` and ``b`` as ``"A:B"``."""
    for column in columns:
        values = [str(row[k]).strip() if row.get(k) is not None else "" for k in column.split("+")]
        if all(values):
            return ":".join(values)
    return None


def text_list(value) -> list[str]:
    """An instruction column as a list of strings: a list (OmniEdit's ``edited_prompt_list``, also as
    its JSON text in a CSV) or a single string."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return [] if value is None else [str(value).strip()]


def keyword_edit_type(category) -> str | None:
    """A corpus's edit category -> :data:`~sigma.data.pairs.EDIT_TYPES` by keyword (readers put
    their exact tables first); ``None`` when the corpus gives no category."""
    if category in (None, ""):
        return None
    c = str(category).lower()
    rules = (
        (("background", "style", "env", "weather", "season", "tone", "light", "global"), "global"),
        (("add", "insert"), "add"),
        (("remov", "eras", "delet"), "remove"),
        (("move", "copy", "duplicat", "clone"), "copy_move"),  # after "remov": "remove" holds "move"
        (("replac", "swap"), "replace"),
        (("attr", "color", "colour", "material", "texture", "appearance", "text"), "attribute_change"),
    )
    return next((t for keys, t in rules if any(k in c for k in keys)), "other")


@dataclass(frozen=True)
class Columns:
    """Which row columns hold what, in order of preference."""

    original: tuple[str, ...]
    edited: tuple[str, ...]
    instruction: tuple[str, ...]
    id: tuple[str, ...] = ("id",)  # "a+b": columns a and b joined (see row_id)
    category: tuple[str, ...] = ()
    mask: tuple[str, ...] = ()
    id_from: str = "edited"  # fallback id: the edited image's path without suffix, or "line"
    keep: tuple[str, ...] = ()  # scalar columns copied into the pair as extra keys


def row_pair(
    name: str,
    folder: str,
    split: str | None,
    lineno: int,
    row: dict,
    cols: Columns,
    edit_type: Callable[[object], str | None],
    where: str = "",
) -> EditPair:
    """One metadata row -> a resolved pair (or :func:`invalid_pair` when an image path is missing)."""
    original, edited = image_ref(row, *cols.original), image_ref(row, *cols.edited)
    missing = [
        f"{what} image (column {'|'.join(c)})"
        for what, c, v in (("original", cols.original, original), ("edited", cols.edited, edited))
        if not v
    ]
    if original is None or edited is None:
        return invalid_pair(name, lineno, "no " + " and no ".join(missing), split, where)
    raw_id = row_id(row, cols.id)
    if raw_id is None:
        suffix = PurePosixPath(edited).suffix
        raw_id = f"line-{lineno}" if cols.id_from == "line" else edited[: len(edited) - len(suffix)]
    instructions = text_list(first_value(row, *cols.instruction))
    category = first_value(row, *cols.category)
    mask = image_ref(row, *cols.mask) if cols.mask else None
    extra = {k: row[k] for k in cols.keep if isinstance(row.get(k), (str, int, float, bool))}
    if category is not None:
        extra["category"] = category
    if len(instructions) > 1:
        extra["instruction_alternatives"] = instructions[1:]
    return EditPair(
        id=f"{name}/{split + '/' if split else ''}{raw_id}",
        original=storage.join(folder, original),
        edited=storage.join(folder, edited),
        mask=storage.join(folder, mask) if mask else None,
        instruction=instructions[0] if instructions else "",
        edit_type=edit_type(category),
        source=name,
        split=split,
        corpus=name,
        **extra,
    )


def read_table_corpus(
    name: str, root: str, expected: str, cols: Columns, edit_type: Callable[[object], str | None] = keyword_edit_type
) -> Iterator[EditPair]:
    """The pairs of every metadata file of ``root``, streamed. The layout is checked now (so a
    wrong root fails at the call); rows are read only as the result is iterated."""
    files = find_metadata(name, root, expected)

    def pairs() -> Iterator[EditPair]:
        for uri, split in files:
            folder = storage.parent(uri)
            for lineno, row in iter_rows(uri):
                if isinstance(row, str):
                    yield invalid_pair(name, lineno, row, split, uri + ": ")
                    continue
                try:
                    yield row_pair(name, folder, split, lineno, row, cols, edit_type, uri + ": ")
                except ValueError as exc:  # pydantic's ValidationError: a value the pair schema refuses
                    yield invalid_pair(name, lineno, f"not an edit pair ({exc})", split, uri + ": ")

    return pairs()
