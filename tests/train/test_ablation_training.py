"""The ablation variants: trained like Stage I into ``ablation.out/NAME``, and scored once, by the
ablation stage, not by Stage I's per-epoch validation and held-out scores."""

from __future__ import annotations

from pathlib import Path

import pytest

import sigma.train.ablation as ablation
import sigma.train.stage1 as stage1
from sigma.train.ablation import train_ablation
from tests.conftest import tiny_params


def test_a_variant_trains_into_its_folder_without_stage1_scoring(tiny_project, tmp_path, monkeypatch):
    monkeypatch.chdir(tiny_project)
    scored: list[str] = []
    score_split = stage1.score_split
    monkeypatch.setattr(stage1, "score_split", lambda m, d, s: scored.append(f"{d}:{s}") or score_split(m, d, s))
    params = tiny_params(f"ablation.out={tmp_path / 'ablation'}", f"stage1.out={tmp_path / 'stage1'}")

    trained = train_ablation(params, names=["multi_scale"], track=False)
    assert list(trained) == ["multi_scale"]
    assert Path(trained["multi_scale"]) == tmp_path / "ablation" / "multi_scale" / "sigma.safetensors"
    assert Path(trained["multi_scale"]).is_file()
    assert scored == []

    summary = stage1.train_stage1(params, track=False)  # Stage I itself still scores every epoch and at the end
    assert "edit" in summary["held_out"] and any(s.endswith(":val") for s in scored)


def test_variants_train_side_by_side_in_worker_processes(tiny_project, tmp_path, monkeypatch):
    monkeypatch.chdir(tiny_project)
    params = tiny_params(f"ablation.out={tmp_path / 'ablation'}", "ablation.processes=2")
    # The spawned workers import their own copy: training in this process means the pool was not used.
    monkeypatch.setattr(ablation, "train_stage1", lambda *a, **k: pytest.fail("variant trained in the driver"))
    trained = train_ablation(params, names=["multi_scale", "drb"], track=False)
    assert sorted(trained) == ["drb", "multi_scale"]
    for checkpoint in trained.values():
        assert Path(checkpoint).is_file()


@pytest.mark.parametrize("ablation_epochs, expected", [("2", 2), ("null", 3)])
def test_variants_train_for_the_ablation_budget(tmp_path, monkeypatch, ablation_epochs, expected):
    jobs = []
    monkeypatch.setattr(ablation, "_train_variant", lambda job, track: jobs.append(job))
    params = tiny_params(f"ablation.out={tmp_path}", "stage1.epochs=3", f"ablation.epochs={ablation_epochs}")
    trained = train_ablation(params, track=False)
    assert len(jobs) == len(trained) > 1
    assert {job.stage1.epochs for job in jobs} == {expected}
    assert {job.stage2.epochs for job in jobs} == {params.stage2.epochs}  # only the variants' Stage I budget
