"""Shared by the annotation tests: a corpus to annotate, and the outputs of a run, comparable across runs."""

from __future__ import annotations

import shutil
from pathlib import Path

from sigma.data.pairs import EditPair, read_manifest


def copy_edit_corpus(tiny_project: Path, root: Path) -> list[EditPair]:
    """The tiny project's edit set copied to ``root`` (a corpus the test may rewrite); its pairs."""
    shutil.copytree(tiny_project / "data/synth/edit", root)
    return read_manifest(str(root), resolve=False)


def snapshot(out: Path) -> dict[str, bytes]:
    """Every output file's bytes, with the OUT path (in the absolute paths of the IMDL export) normalised.
    Nothing else may differ between runs: no timings, hostnames or registry versions live in OUT."""
    return {
        str(path.relative_to(out)): path.read_bytes().replace(str(out).encode(), b"OUT")
        for path in sorted(p for p in out.rglob("*") if p.is_file())
    }
