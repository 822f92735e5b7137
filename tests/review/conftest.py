"""A tiny annotated corpus to review: the tiny project's edit set annotated by the tiny model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from sigma.annotate.run import annotate_corpus
from sigma.model.prior import IntentPrior
from tests.conftest import tiny_params

ANNOTATE = ["annotate.shard_size=8", "annotate.batch_size=8", "annotate.workers=0"]


@pytest.fixture(scope="session")
def annotated_once(tiny_project, tiny_checkpoint, tmp_path_factory) -> Path:
    """The tiny model has no grounder: as if it found the concepts of every edit but additions, so that
    the corpus has pairs whose intended / side-effect split is known and pairs whose split is not."""
    out = tmp_path_factory.mktemp("annotated") / "out"
    reason = IntentPrior.unknown_split_reason
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            IntentPrior,
            "unknown_split_reason",
            lambda self, p, i: reason(self, p, i if p.action == "add" else torch.ones_like(i)),
        )
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
