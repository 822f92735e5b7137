"""Merge committed shards into the run's outputs: ``annotations.jsonl``, ``rejects.jsonl``,
the IMDL-BenCo export (``sigma/annotate/imdl.py``), ``summary.json`` and ``area_histogram.png``.

Everything streams shard by shard into local temporary files that are then moved (locally) or
uploaded (S3, multipart for large files) into place, so memory stays flat for any corpus size and
a reader never sees a half-written file.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from sigma.annotate.imdl import ImdlExport, filter_reason
from sigma.annotate.layout import OutputLayout
from sigma.config import AnnotateParams
from sigma.data import storage

log = logging.getLogger(__name__)
AREA_BINS = np.linspace(0, 1, 21)
REASONS = (
    ("not found", "missing_file"),
    ("size mismatch", "size_mismatch"),
    ("pixel limit", "too_large"),
    ("corrupt", "corrupt_image"),
    ("not a recognised image", "corrupt_image"),
    ("empty file", "corrupt_image"),
    ("cannot read", "unreadable_file"),
    ("outside the corpus folder", "path_outside_corpus"),
    ("instruction longer", "instruction_too_long"),
    ("duplicate id", "duplicate_id"),  # before the generic invalid record it is reported as
    ("invalid corpus record", "invalid_record"),
)


def reason_category(reason: str) -> str:
    return next((category for needle, category in REASONS if needle in reason), "other")


def keep_for_training(record: dict[str, Any], cfg: AnnotateParams) -> bool:
    """The export filters: area range, confidence, and (optionally) no global edits."""
    return filter_reason(record, cfg) is None


def _publish(local: Path, uri: str) -> None:
    if storage.is_s3(uri):
        bucket, key = storage.split_s3(uri)
        storage.s3_client().upload_file(str(local), bucket, key)  # multipart above 8 MB, one object on completion
    else:
        Path(uri).parent.mkdir(parents=True, exist_ok=True)
        os.replace(local, uri)


def shard_indices(layout: OutputLayout, n_shards: int) -> list[int]:
    missing = [i for i in range(n_shards) if layout.is_done(i) is None]
    if missing:
        raise ValueError(f"shards {missing[:10]} of {layout.root} are not committed: run again with --resume")
    return list(range(n_shards))


def finalize(layout: OutputLayout, cfg: AnnotateParams, n_shards: int) -> dict:
    """Write the merged outputs of shards ``0..n_shards-1``; returns the summary (no timings: OUT's
    bytes depend on the corpus, model and params only, so a resumed or repeated run gives the same)."""
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    histogram = np.zeros(len(AREA_BINS) - 1, np.int64)
    tmp_dir = Path(tempfile.mkdtemp(prefix=".finalize-", dir=layout.root if layout.local else None))
    try:
        with ExitStack() as stack:  # closes the files on an error too
            files = {
                name: stack.enter_context(open(tmp_dir / name, "w", encoding="utf-8"))
                for name in ("annotations.jsonl", "rejects.jsonl")
            }
            export = ImdlExport(tmp_dir, stack, cfg, layout.root)
            for index in shard_indices(layout, n_shards):
                for raw in storage.iter_lines(layout.shard_file(index, "annotations.jsonl")):
                    record = json.loads(raw)
                    files["annotations.jsonl"].write(raw.decode() + "\n")
                    counts["annotated"] += 1
                    histogram += np.histogram([record["area"]], AREA_BINS)[0]
                    intended = record.get("mask_intended")
                    export.add(record, layout.path(record["mask"]), intended and layout.path(intended))
                for raw in storage.iter_lines(layout.shard_file(index, "rejects.jsonl")):
                    files["rejects.jsonl"].write(raw.decode() + "\n")
                    reasons[reason_category(json.loads(raw)["reason"])] += 1
            export_files = export.finish()
        summary = {
            "pairs": counts["annotated"] + sum(reasons.values()),
            "annotated": counts["annotated"],
            "rejected": sum(reasons.values()),
            "rejects_by_reason": dict(sorted(reasons.items())),
            **export.summary(),
            "shards": n_shards,
            "area_histogram": {"edges": AREA_BINS.round(3).tolist(), "counts": histogram.tolist()},
        }
        (tmp_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        plot_areas(histogram, tmp_dir / "area_histogram.png")
        if export.filtered:
            log.info("left out of the IMDL-BenCo export: %s", dict(export.filtered))
        for name in ("annotations.jsonl", "rejects.jsonl", *export_files, "area_histogram.png", "summary.json"):
            _publish(tmp_dir / name, layout.path(name))
    finally:
        for leftover in tmp_dir.glob("*"):
            leftover.unlink()
        tmp_dir.rmdir()
    return summary


def plot_areas(histogram: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(AREA_BINS[:-1], histogram, width=np.diff(AREA_BINS), align="edge", edgecolor="white")
    ax.set_xlabel("mask area (fraction of the image)")
    ax.set_ylabel("pairs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
