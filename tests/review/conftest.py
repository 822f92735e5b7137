"""A tiny annotated corpus to review: the tiny project's edit set annotated by the tiny model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sigma.annotate.run import annotate_corpus
from sigma.model.prior import IntentPrior
from tests.conftest import tiny_params

ANNOTATE = ["annotate.shard_size=8", "annotate.batch_size=8", "annotate.workers=0"]


@pytest.fixture(scope="session")
def annotated_once(tiny_project, tiny_checkpoint, tmp_path_factory) -> Path:
    """The tiny model has no grounder: as if it grounded every edit but additions in the left half of
    the picture, so that the corpus has pairs whose split is unknown (additions), pairs whose changed
    regions the prior covers alike (no side effect) and pairs with a changed region in the right half
    only (a side effect)."""
    out = tmp_path_factory.mktemp("annotated") / "out"
    prior = IntentPrior.__call__

    def left_half(self, originals, editeds, instructions, grid, features=None):
        intent, parsed = prior(self, originals, editeds, instructions, grid, features)
        for i, p in enumerate(parsed):
            if p.edits and p.action != "add":
                intent[i, :, :, : grid[1] // 2] = 1.0
        return intent, parsed

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(IntentPrior, "__call__", left_half)
        annotate_corpus(
            tiny_params(*ANNOTATE), str(tiny_project / "data/synth/edit"), str(out), tiny_checkpoint, track=False
        )
    return out


@pytest.fixture
def annotated(annotated_once, tiny_project, tmp_path, monkeypatch) -> Path:
    """A fresh copy of the annotated OUT (the test may write decisions); cwd is the project, the index
    cache a temp folder."""
    monkeypatch.chdir(tiny_project)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "out"
    shutil.copytree(annotated_once, out)
    return out


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "annotations.jsonl").read_text().splitlines()]


def decisions(out: Path) -> list[dict]:
    path = out / "review.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
