"""The IMDL-BenCo export of an annotation run: ``JsonDataset`` lists of ``[image, mask]`` pairs,
with ``[image, "Negative"]`` for unedited images.

- ``imdlbenco.<split>.json`` per split when the corpus has splits (a researcher must not train on
  the test pairs), ``imdlbenco.json`` for pairs without one.
- ``annotate.export_paths``: ``relative`` (default) writes each path relative to the export file's
  folder (OUT) when both are on one filesystem or S3 bucket, so OUT can be moved, synced or pulled
  by DVC elsewhere; imdlbenco opens paths against its working directory, so it runs from OUT.
  ``absolute`` writes absolute local paths and ``s3://`` URIs. A path on another filesystem than
  OUT (a local corpus, an S3 OUT) is absolute either way.
- The originals of annotated pairs are the negatives (``annotate.negatives``), each once.
- Pairs left out are counted by reason: ``global``, ``area``, ``confidence``.
- ``annotate.export_mask: intended`` lists each pair's mask without its side-effect pixels where the
  split is known (``masks_intended/``); a pair whose split is unknown keeps its whole mask.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from sigma.annotate.dedup import SeenIds
from sigma.config import AnnotateParams
from sigma.data import storage


def imdl_file(split: str | None) -> str:
    return f"imdlbenco.{split}.json" if split else "imdlbenco.json"


def filter_reason(record: dict[str, Any], cfg: AnnotateParams) -> str | None:
    """Why ``record`` stays out of the export (None: it goes in)."""
    is_global = record.get("edit_type") == "global" or (record.get("parsed") or {}).get("action") == "global"
    if cfg.skip_global and is_global:
        return "global"
    if not cfg.min_area <= record["area"] <= cfg.max_area:
        return "area"
    if record["score"] < cfg.min_confidence:
        return "confidence"
    return None


def export_path(path: str, out: str, relative: bool) -> str:
    """``path`` as the export file in ``out`` names it (see the module docstring)."""
    if not storage.is_s3(path):
        path = os.path.abspath(path)
    if not relative or storage.is_s3(path) != storage.is_s3(out):
        return path
    if storage.is_s3(path):
        (bucket, key), (out_bucket, out_key) = storage.split_s3(path), storage.split_s3(out)
        return posixpath.relpath(key, out_key or ".") if bucket == out_bucket else path
    return Path(os.path.relpath(path, os.path.abspath(out))).as_posix()


class ImdlExport:
    """Streams the export files into ``folder`` (opened on ``stack``) one record at a time; ``out`` is
    where they are published (paths are written relative to it, ``annotate.export_paths``)."""

    def __init__(self, folder: Path, stack: ExitStack, cfg: AnnotateParams, out: str):
        self.folder, self.stack, self.cfg, self.out = folder, stack, cfg, out
        self.files: dict[str, IO[str]] = {}
        self.entries: Counter[str] = Counter()
        self.filtered: Counter[str] = Counter()
        self.negatives = 0
        self.originals = stack.enter_context(SeenIds())

    def _file(self, name: str) -> IO[str]:
        if name not in self.files:
            fh = open(self.folder / name, "w", encoding="utf-8")  # noqa: SIM115 - closed by the ExitStack
            self.files[name] = self.stack.enter_context(fh)
            self.files[name].write("[")
        return self.files[name]

    def _write(self, split: str | None, entry: list[str]) -> None:
        name = imdl_file(split)
        self._file(name).write(("," if self.entries[name] else "") + "\n  " + json.dumps(entry))
        self.entries[name] += 1

    def add(self, record: dict[str, Any], mask_path: str, intended_path: str | None = None) -> None:
        """One record: its mask at ``mask_path`` (``intended_path``: the mask without its side effects,
        exported instead under ``annotate.export_mask: intended``; None where the split is unknown)."""
        if self.cfg.export_mask == "intended" and intended_path:
            mask_path = intended_path
        split = record.get("split")
        reason = filter_reason(record, self.cfg)
        if reason:
            self.filtered[reason] += 1
        else:
            self._write(split, [self._path(record["edited"]), self._path(mask_path)])
        if self.cfg.negatives and self.originals.first_line(record["original"], 0) is None:
            self._write(split, [self._path(record["original"]), "Negative"])
            self.negatives += 1

    def _path(self, path: str) -> str:
        return export_path(path, self.out, self.cfg.export_paths == "relative")

    def finish(self) -> list[str]:
        """End the lists (the stack closes the files); returns the names written, ``imdlbenco.json``
        always (an empty list when every pair has a split)."""
        self._file("imdlbenco.json")
        for fh in self.files.values():
            fh.write("\n]\n")
        return sorted(self.files)

    def summary(self) -> dict[str, Any]:
        return {
            "imdlbenco_pairs": sum(self.entries.values()) - self.negatives,
            "imdlbenco_negatives": self.negatives,
            "imdlbenco_files": {name: self.entries[name] for name in sorted(self.files)},
            "imdlbenco_filtered": dict(sorted(self.filtered.items())),
        }
