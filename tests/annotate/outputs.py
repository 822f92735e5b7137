"""Shared by the annotation tests: a corpus to annotate, and the outputs of a run, comparable across runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sigma.data.pairs import EditPair, read_manifest

TIMING_FIELDS = {"seconds", "skipped"}


def copy_edit_corpus(tiny_project: Path, root: Path) -> list[EditPair]:
    """The tiny project's edit set copied to ``root`` (a corpus the test may rewrite); its pairs."""
    shutil.copytree(tiny_project / "data/synth/edit", root)
    return read_manifest(str(root), resolve=False)


def snapshot(out: Path) -> dict[str, object]:
    """Every output file's content, with run-specific parts (timings, the OUT path) normalised."""
    files = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = str(path.relative_to(out))
        if rel == "summary.json":
            summary = json.loads(path.read_text())
            files[rel] = {k: v for k, v in summary.items() if "seconds" not in k and k != "pairs_per_second"}
        elif rel.endswith("done.json"):
            files[rel] = {k: v for k, v in json.loads(path.read_text()).items() if k not in TIMING_FIELDS}
        elif rel == "area_histogram.png":
            files[rel] = "png"
        else:
            files[rel] = path.read_bytes().replace(str(out).encode(), b"OUT")
    return files
