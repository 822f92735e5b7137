"""Tiny Stage I / Stage II runs: resume equivalence, MLflow logging and registration."""

from __future__ import annotations

import json
import re

import mlflow
import pytest
import torch
from mlflow import MlflowClient
from safetensors.torch import load_file

from sigma.model.checkpoint import load_checkpoint, weights_digest
from sigma.progress import LOG_SECONDS_ENV
from sigma.train.stage1 import train_stage1
from sigma.train.stage2 import train_stage2
from sigma.train.vae import train_vae_stage
from tests.conftest import tiny_params


def _weights(path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def test_killed_stage1_resumed_matches_an_uninterrupted_run(tiny_project, tmp_path, monkeypatch):
    monkeypatch.chdir(tiny_project)
    full = train_stage1(tiny_params(f"stage1.out={tmp_path / 'full'}"), track=False)
    assert full["steps"] >= 3, "the tiny run is too short to interrupt"

    stopped = train_stage1(tiny_params(f"stage1.out={tmp_path / 'cut'}", "stage1.max_steps=1"), track=False)
    assert stopped["steps"] == 1
    after_one_step = _weights(tmp_path / "cut" / "sigma.safetensors")
    resumed = train_stage1(tiny_params(f"stage1.out={tmp_path / 'cut'}"), resume=True, track=False)
    assert resumed["steps"] == full["steps"]

    a, b = _weights(tmp_path / "full" / "sigma.safetensors"), _weights(tmp_path / "cut" / "sigma.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from the uninterrupted run"
    # not trivially equal: the steps after the interruption did change the weights
    assert any(not torch.equal(a[k], after_one_step[k]) for k in a)


def test_stage1_saves_the_mean_of_its_averaged_epochs_end_weights_and_resumes_the_mean(
    tiny_project, tmp_path, monkeypatch
):
    monkeypatch.chdir(tiny_project)
    last = train_stage1(tiny_params(f"stage1.out={tmp_path / 'last'}", "stage1.average_last=0"), track=False)
    per_epoch = last["steps"] // 2
    averaging = ["stage1.average_last=1.0"]
    # stopped after its first epoch (the schedule stays the full run's): the mean of that epoch alone
    train_stage1(
        tiny_params(f"stage1.out={tmp_path / 'cut'}", *averaging, f"stage1.max_steps={per_epoch}"), track=False
    )
    first = _weights(tmp_path / "cut" / "sigma.safetensors")
    train_stage1(tiny_params(f"stage1.out={tmp_path / 'mean'}", *averaging), track=False)
    train_stage1(tiny_params(f"stage1.out={tmp_path / 'cut'}", *averaging), resume=True, track=False)

    final, mean = _weights(tmp_path / "last" / "sigma.safetensors"), _weights(tmp_path / "mean" / "sigma.safetensors")
    trained = [k for k in final if final[k].is_floating_point() and not torch.equal(first[k], final[k])]
    assert trained, "the second epoch changed nothing: the test cannot tell a mean from the last weights"
    for k in trained:
        torch.testing.assert_close(mean[k], (first[k] + final[k]) / 2)
    resumed = _weights(tmp_path / "cut" / "sigma.safetensors")
    assert all(torch.equal(resumed[k], mean[k]) for k in mean), "the resumed run lost the first epoch's weights"


def test_stages_log_to_mlflow_and_stage2_registers_a_version(tiny_project, tmp_path, monkeypatch):
    monkeypatch.chdir(tiny_project)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "training-test")
    overrides = [
        f"stage1.out={tmp_path / 's1'}",
        f"stage2.out={tmp_path / 's2'}",
        f"vae.out={tmp_path / 'vae'}",
        "stage1.max_steps=2",
        "stage2.max_steps=2",
        "data.sources=[{kind: builtin, max_images: 6}]",
    ]
    params = tiny_params(*overrides)
    train_vae_stage(params, track=False)
    train_stage1(params, track=True)
    summary = train_stage2(params, track=True, register="sigma-test", metrics=tmp_path / "stage2.json")

    client = MlflowClient()
    runs = {r.info.run_name: r for r in mlflow.search_runs(experiment_names=["training-test"], output_format="list")}
    assert {"stage1", "stage2"} <= runs.keys()
    for name in ("stage1", "stage2"):
        run = runs[name]
        assert run.data.params["stage1.lr" if name == "stage1" else "stage2.lr"]
        assert run.data.tags["sigma.stage"] == name
        assert len(run.data.tags["input.data/synth/inpaint"]) == 32  # the md5 of the manifest trained on
        history = client.get_metric_history(run.info.run_id, "seg")
        assert [m.step for m in history] == [1, 2]
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "checkpoint")}
        assert artifacts == {"checkpoint/sigma.safetensors"}
    for term in ("pl", "calib", "dis"):
        assert client.get_metric_history(runs["stage2"].info.run_id, term), f"stage2 did not log {term}"

    version = client.get_model_version("sigma-test", summary["registered_version"])
    assert version.run_id == runs["stage2"].info.run_id
    assert runs["stage2"].data.tags["registered_version"] == str(version.version)
    # the version is found by its weights: the DVC checkpoint (pretrained parts rebuilt) and the
    # registered artifact (pretrained parts inside) have one digest
    assert version.tags["weights_digest"] == weights_digest(load_checkpoint(tmp_path / "s2" / "sigma.safetensors"))
    assert "registered_version" not in json.loads((tmp_path / "stage2.json").read_text())  # git's metrics
    model = mlflow.pyfunc.load_model(f"models:/sigma-test/{version.version}")
    assert model.metadata.signature is not None


def test_stage2_without_stage1_is_a_clear_error(tiny_project, tmp_path, monkeypatch):
    monkeypatch.chdir(tiny_project)
    with pytest.raises(FileNotFoundError, match="stage1"):
        train_stage2(tiny_params(f"stage1.out={tmp_path / 'nothing'}"), track=False)


def test_a_piped_stage_run_prints_progress_lines(tiny_project, tmp_path, monkeypatch, capsys):
    """Outside a terminal (a log, a Prefect worker) the training bar also prints plain lines."""
    monkeypatch.chdir(tiny_project)
    monkeypatch.setenv(LOG_SECONDS_ENV, "0")  # a line per step: the tiny run lasts seconds, not 30 s
    steps = train_stage1(tiny_params(f"stage1.out={tmp_path / 'piped'}"), track=False)["steps"]
    captured = capsys.readouterr()
    lines = [
        line for line in (captured.out + captured.err).splitlines() if re.search(r": \d+/\d+ \(\d+%\) loss=", line)
    ]
    assert len(lines) == steps
    assert f"{steps}/{steps} (100%)" in lines[-1] and "left " in lines[-1]
