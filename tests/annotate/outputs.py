"""Shared by the annotation tests: a corpus to annotate, and the outputs of a run, comparable across runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch

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


def truth_outputs(truth: dict[bytes, tuple[np.ndarray, np.ndarray]], side_share: float = 0.05):
    """``SigmaAnnotator.iter_outputs`` of a model that sees exactly what changed and a grounder that finds
    what was asked: edit logits +-20 on the pair's mask (found by its edited image's bytes), an intent
    map of 1 on the asked-for change, ``side_share`` on the side effect, 0.001 elsewhere."""

    def iter_outputs(self, pairs, batch_size=8, use_instruction=True):
        for _, edited, instruction in pairs:
            mask, side = truth[edited.tobytes()]
            logits = torch.full((2, *mask.shape), -20.0)
            logits[0][torch.from_numpy(mask)] = 20.0
            intent = torch.full(mask.shape, 0.001)
            intent[torch.from_numpy(mask & ~side)] = 1.0
            intent[torch.from_numpy(side)] = side_share
            yield logits, intent, self.prior.parse(instruction)

    return iter_outputs
