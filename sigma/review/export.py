"""``sigma export``: the IML-ready files of an annotation run, honouring the review decisions.

Writes to ``DEST`` (default ``OUT/reviewed``): ``imdlbenco.<split>.json`` (and ``imdlbenco.json``) as
``sigma annotate`` does, with the same ``annotate`` filters; ``manifest.jsonl``, the kept pairs in this
project's pair format with their masks (a benchmark or training corpus); ``summary.json``, with how
many pairs were accepted, rejected, flagged and left unreviewed; ``review_calibration.{json,png}``,
the accept rate by confidence, when there are decisions. OUT itself is only read. Paths follow
``annotate.export_paths`` relative to ``DEST``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Literal

from sigma.annotate.imdl import ImdlExport, export_path
from sigma.config import AnnotateParams
from sigma.data import storage
from sigma.review.calibration import write_calibration
from sigma.review.decisions import ReviewLog
from sigma.review.index import ANNOTATIONS, AnnotationIndex

Mode = Literal["accepted-only", "exclude-rejected"]
STATE_NAMES = {"accept": "accepted", "reject": "rejected", "flag": "flagged", None: "unreviewed"}


def keep(decision: str | None, mode: Mode) -> bool:
    return decision == "accept" if mode == "accepted-only" else decision != "reject"


def export_reviewed(
    out: str, cfg: AnnotateParams, mode: Mode = "exclude-rejected", dest: str | None = None, root: str = "."
) -> dict[str, Any]:
    """Export OUT's pairs that ``mode`` keeps into ``dest``; returns the summary. Corpus paths in the
    records resolve against ``root``, the folder ``sigma annotate`` ran in."""
    out = out.rstrip("/")
    dest = (dest or storage.join(out, "reviewed")).rstrip("/")
    decisions = ReviewLog(out)
    states: Counter[str] = Counter()
    relative = cfg.export_paths == "relative"
    tmp = Path(tempfile.mkdtemp(prefix="sigma-export-"))
    try:
        with ExitStack() as stack:
            export = ImdlExport(tmp, stack, cfg, dest)
            manifest = stack.enter_context(open(tmp / "manifest.jsonl", "w", encoding="utf-8"))
            for raw in storage.iter_lines(storage.join(out, ANNOTATIONS)):
                if not raw.strip():
                    continue
                record = json.loads(raw)
                decision = decisions.decision_of(record["id"])
                states[STATE_NAMES[decision]] += 1
                if not keep(decision, mode):
                    continue
                resolved = record | {k: storage.join(root, record[k]) for k in ("original", "edited")}
                mask = storage.join(out, record["mask"])
                export.add(resolved, mask)
                pair = {k: record.get(k) for k in ("id", "instruction", "edit_type", "split")} | {
                    k: export_path(v, dest, relative)
                    for k, v in (("original", resolved["original"]), ("edited", resolved["edited"]), ("mask", mask))
                }
                manifest.write(json.dumps(pair, ensure_ascii=False) + "\n")
                states["exported"] += 1
            files = export.finish()
        summary = {
            "mode": mode,
            "pairs": sum(states[name] for name in STATE_NAMES.values()),
            **{name: states[name] for name in (*STATE_NAMES.values(), "exported")},
            **export.summary(),
        }
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        for name in (*files, "manifest.jsonl", "summary.json"):
            storage.write_bytes_atomic(storage.join(dest, name), (tmp / name).read_bytes())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if decisions.latest:
        index = AnnotationIndex(out)
        index.set_decisions({k: v["decision"] for k, v in decisions.latest.items()})
        write_calibration(index, dest)
    return summary
