"""Helpers the benchmark loaders share: list a root once, find the dataset's folders in it, index
images by file stem and build resolved :class:`~sigma.data.pairs.EditPair` records.

Everything goes through :mod:`sigma.data.storage`, so a root may be a local folder or an ``s3://``
prefix. Folder names match case-insensitively, and a dataset may sit directly in the root or one
folder below it (the folder an archive unpacks to, e.g. ``root/CocoGlide/fake/...``).
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from sigma.data import storage
from sigma.data.pairs import EditPair
from sigma.eval.benchmarks.base import BenchmarkLayoutError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def absolute_root(root: str) -> str:
    """``root`` with local paths made absolute (S3 prefixes pass through)."""
    return root.rstrip("/") if storage.is_s3(root) else str(Path(root).resolve())


def list_root(root: str, name: str, expected: str) -> list[str]:
    """Every file under ``root`` (sorted, relative); :class:`BenchmarkLayoutError` if there is none."""
    if not storage.is_s3(root) and not Path(root).is_dir():
        raise BenchmarkLayoutError(f"{name}: {root} is not a folder; expected {expected}")
    files = storage.list_files(root)
    if not files:
        raise BenchmarkLayoutError(f"{name}: {root} is empty; expected {expected}")
    return files


def layout_error(name: str, root: str, expected: str) -> BenchmarkLayoutError:
    return BenchmarkLayoutError(f"{name}: {root} does not hold the expected layout: {expected}")


def parts(rel: str) -> tuple[str, ...]:
    return PurePosixPath(rel).parts


def stem(rel: str) -> str:
    return PurePosixPath(rel).stem


def is_image(rel: str) -> bool:
    return PurePosixPath(rel).suffix.lower() in IMAGE_EXTS


def find_base(files: list[str], *folders: str) -> str | None:
    """The prefix (``""`` or ``"X/"``) under which every one of ``folders`` exists, else None."""
    seen: dict[str, set[str]] = {}
    for rel in files:
        p = parts(rel)
        for depth in (0, 1):
            if len(p) > depth + 1:
                seen.setdefault("".join(f"{x}/" for x in p[:depth]), set()).add(p[depth].lower())
    wanted = {f.lower() for f in folders}
    return next((base for base in sorted(seen, key=len) if wanted <= seen[base]), None)


def images_in(files: list[str], base: str, folder: str) -> list[str]:
    """Image files anywhere below ``base + folder`` (folder name matched case-insensitively)."""
    depth = len(parts(base)) if base else 0
    return [
        rel
        for rel in files
        if is_image(rel)
        and rel.startswith(base)
        and len(parts(rel)) > depth + 1
        and parts(rel)[depth].lower() == folder.lower()
    ]


def by_stem(rels: list[str]) -> dict[str, str]:
    """File stem -> relative path (the first in sorted order wins when extensions differ)."""
    index: dict[str, str] = {}
    for rel in rels:
        index.setdefault(stem(rel), rel)
    return index


def read_json(root: str, rel: str):
    return json.loads(storage.read_bytes(storage.join(root, rel)).decode("utf-8"))


def make_pair(
    name: str, root: str, pair_id: str, original: str, edited: str, mask: str, instruction: str = "", **extra
) -> EditPair:
    """A resolved pair: paths joined to ``root``, ``source``/``benchmark`` set to ``name``."""
    return EditPair(
        id=pair_id,
        original=storage.join(root, original),
        edited=storage.join(root, edited),
        mask=storage.join(root, mask),
        instruction=instruction or "",
        source=name,
        benchmark=name,
        **extra,
    )
