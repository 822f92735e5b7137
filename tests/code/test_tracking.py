import pytest

from sigma.tracking import flatten, lock_hashes, start_run


def test_flatten_nested_params():
    assert flatten({"data": {"edit": {"n_pairs": 3, "mix": [1, 2]}}, "seed": 1}) == {
        "data.edit.n_pairs": 3,
        "data.edit.mix": [1, 2],
        "seed": 1,
    }


def test_lock_hashes_read_the_stage_inputs(tmp_path):
    lock = tmp_path / "dvc.lock"
    lock.write_text("schema: '2.0'\nstages:\n  synth_edit:\n    deps:\n    - path: data/raw\n      md5: abc.dir\n")
    assert lock_hashes("synth_edit", lock) == {"dvc.dep.data/raw": "abc.dir"}
    assert lock_hashes("other", lock) == {}
    assert lock_hashes("synth_edit", tmp_path / "missing.lock") == {}


@pytest.mark.slow
def test_run_is_tracked_with_params_and_lineage(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    (tmp_path / "dvc.lock").write_text("stages:\n  synth_edit:\n    deps:\n    - path: data/raw\n      md5: abc.dir\n")
    with start_run("synth", {"data": {"n": 3}}, stage="synth_edit") as run:
        pass
    got = mlflow.get_run(run.info.run_id)
    assert got.data.params == {"data.n": "3"}
    assert got.data.tags["dvc.dep.data/raw"] == "abc.dir"
    assert got.data.tags["sigma.stage"] == "synth_edit"


def test_pipeline_run_is_the_parent_of_stage_runs(tmp_path, monkeypatch):
    import sys

    import mlflow

    from sigma.tracking import run_pipeline

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "pipeline-test")
    child = "from sigma.tracking import log_summary; log_summary('child', {'a': 1}, {'m': 2.0}, stage='child')"
    assert run_pipeline([sys.executable, "-c", child]) == 0
    assert run_pipeline([sys.executable, "-c", "raise SystemExit(3)"], name="broken") == 3

    runs = {r.info.run_name: r for r in mlflow.search_runs(experiment_names=["pipeline-test"], output_format="list")}
    assert runs["child"].data.tags["mlflow.parentRunId"] == runs["pipeline"].info.run_id
    assert runs["pipeline"].info.status == "FINISHED"
    assert runs["broken"].info.status == "FAILED"


def test_pipeline_reports_the_wall_time_of_each_dvc_stage(tmp_path, monkeypatch, capfd):
    import sys
    from pathlib import Path

    import mlflow

    from sigma.tracking import run_pipeline

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "stage-times")
    sigma = Path(sys.executable).parent / "sigma"
    assert sigma.exists(), f"the sigma command is not installed next to {sys.executable}"
    # Two "stages" as DVC starts them (DVC_STAGE set), and one process outside DVC that is not timed.
    script = f"DVC_STAGE=first {sigma} version && DVC_STAGE=second {sigma} version && {sigma} version"
    assert run_pipeline(["bash", "-c", script]) == 0

    run = mlflow.search_runs(experiment_names=["stage-times"], output_format="list")[0]
    timed = {k for k in run.data.metrics if k.startswith("stage_seconds.")}
    assert timed == {"stage_seconds.first", "stage_seconds.second"}
    assert run.data.metrics["pipeline_seconds"] >= run.data.metrics["stage_seconds.first"] > 0
    assert "second" in capfd.readouterr().err  # the table a user sees at the end of `make run`


def test_a_run_outside_a_project_tracks_to_the_user_data_folder_and_says_so(
    tiny_project, tmp_path, user_data_home, monkeypatch
):
    from typer.testing import CliRunner

    from sigma.cli import app

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    elsewhere = tmp_path / "elsewhere"  # no params.yaml, no dvc.yaml
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    corpus = str(tiny_project / "data/synth/edit")
    result = CliRunner().invoke(app, ["annotate", corpus, str(tmp_path / "out"), "--model", "method:pixdiff_otsu"])
    assert result.exit_code == 0, result.output
    assert list(elsewhere.iterdir()) == []  # no mlflow.db, no mlruns/ in the current folder
    store = user_data_home / "sigma"
    assert (store / "mlflow.db").is_file() and any((store / "mlruns").rglob("summary.json"))
    assert f"tracking to sqlite:///{store / 'mlflow.db'}" in result.output
