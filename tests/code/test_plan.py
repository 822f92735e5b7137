"""The plan a pipeline run prints first: the stages `dvc repro` will run, with their recorded times."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sigma.plan import STAGE_TIMES_RECORD, print_plan, repro_targets, stages_to_run, update_record

BIN = Path(sys.executable).parent


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A DVC project: ``a`` reads in.txt, ``b`` reads a's output, ``c`` reads other.txt; all reproduced."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    subprocess.run(["dvc", "init", "--no-scm", "-q"], check=True)
    sigma = BIN / "sigma"  # a sigma process records its stage's wall time (sigma.tracking.time_this_stage)
    stages = {
        "a": {"cmd": f"{sigma} version && cp in.txt a.txt", "deps": ["in.txt"], "outs": ["a.txt"]},
        "b": {"cmd": f"{sigma} version && cp a.txt b.txt", "deps": ["a.txt"], "outs": ["b.txt"]},
        "c": {"cmd": "cp other.txt c.txt", "deps": ["other.txt"], "outs": ["c.txt"]},
    }
    Path("dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    Path("in.txt").write_text("1")
    Path("other.txt").write_text("1")
    subprocess.run(["dvc", "repro", "-q"], check=True)
    return tmp_path


def test_an_out_of_date_stage_runs_with_what_depends_on_it(project):
    assert stages_to_run([]) == []
    Path("in.txt").write_text("2")
    assert stages_to_run([]) == ["a", "b"]
    assert stages_to_run(["b"]) == ["a", "b"]
    assert stages_to_run(["c"]) == []


def test_a_pipeline_run_prints_the_plan_then_records_the_stage_times(project, capfd):
    from sigma.tracking import run_pipeline

    update_record({"a": 120.0, "gone": 5.0})  # a previous run's record
    Path("in.txt").write_text("2")
    assert run_pipeline(["dvc", "repro"]) == 0
    err = capfd.readouterr().err
    assert "will run 2 stage(s)" in err and "2.0 min" in err and "no record" in err  # a's record; b has none
    recorded = json.loads(STAGE_TIMES_RECORD.read_text())["stages"]
    assert set(recorded) == {"a", "b", "gone"} and recorded["a"] != 120.0  # replaced by this run's


def test_only_a_plain_dvc_repro_is_planned():
    assert repro_targets(["dvc", "repro", "table1", "annotate"]) == ["table1", "annotate"]
    assert repro_targets(["dvc", "repro"]) == []
    assert repro_targets(["dvc", "repro", "--force"]) is None
    assert repro_targets(["bash", "-c", "dvc repro"]) is None


def test_the_plan_totals_the_known_times(capsys):
    from rich.console import Console

    console = Console(file=sys.stdout, width=120)
    print_plan(["vae", "stage1", "new"], {"vae": 600.0, "stage1": 300.0}, console)
    out = capsys.readouterr().out
    assert "15.0 min + 1 stage(s) with no record" in out


def test_a_plan_with_no_record_says_so(capsys):
    from rich.console import Console

    print_plan(["vae"], {}, Console(file=sys.stdout, width=120))
    out = capsys.readouterr().out
    assert "1 stage(s) with no record" in out and "0.0 min" not in out
