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
    """Every output file's bytes, by path relative to OUT. Nothing may differ between runs: no timings,
    hostnames or registry versions live in OUT, and no absolute path of OUT either (the default export
    is relative, so a moved or synced OUT stays valid): a leaked one fails here, naming the file."""
    files = {str(path.relative_to(out)): path.read_bytes() for path in sorted(p for p in out.rglob("*") if p.is_file())}
    leaked = [name for name, data in files.items() if str(out.resolve()).encode() in data or str(out).encode() in data]
    assert not leaked, f"OUT's absolute path {out} is written in {leaked}"
    return files
