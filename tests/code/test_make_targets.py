"""`make run` reaches the annotator without the paper's long stages; `make paper` runs every stage."""

import shlex
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

PAPER_ONLY = {"ablation_train", "ablation", "robustness", "paper_tables"}  # and the downstream experiment


def _repro_targets(make_target: str) -> list[str]:
    """The stages the target's `dvc repro` names, from the commands make would run (``make -n``)."""
    plan = subprocess.run(["make", "-n", make_target], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    lines = [line for line in plan.splitlines() if "dvc repro" in line]
    assert len(lines) == 1, plan
    words = shlex.split(lines[0])
    return words[words.index("repro") + 1 :]


def _with_upstream(targets: list[str]) -> set[str]:
    """The stages DVC runs for ``targets``: they and every stage they depend on (DVC's own graph)."""
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        return {getattr(s, "name", s.addressing) for t in targets for s in repo.stage.collect(t, with_deps=True)}


@pytest.fixture(scope="module")
def all_stages() -> set[str]:
    return set(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])


def test_make_run_reaches_the_annotator_without_the_ablation_or_the_downstream_stages(all_stages):
    stages = _with_upstream(_repro_targets("run"))
    assert {"vae", "stage1", "stage2", "train_cd", "evaluate", "table1", "promote", "annotate"} <= stages
    assert not stages & PAPER_ONLY
    assert not {s for s in stages if s.startswith("downstream")}
    assert all_stages >= PAPER_ONLY  # the names above are real stages, so the check could fail


def test_make_paper_runs_every_stage():
    assert _repro_targets("paper") == []  # plain `dvc repro`: the whole dvc.yaml


def test_the_large_photo_benchmark_is_make_papers_and_follows_its_photos():
    def plan(target: str) -> str:
        return subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True).stdout

    assert "mate-backgrounds" not in plan("run")  # about 10 minutes of make run on 2 cores otherwise
    assert "mate-backgrounds" in plan("paper")
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["synth_dev_large"]
    assert "${data.dev_large.source.path}" in stage["deps"]  # fetched photos make DVC rebuild the benchmark
    assert (ROOT / "data/large_photos/.gitkeep").exists()  # so a clone without them still has the dependency
