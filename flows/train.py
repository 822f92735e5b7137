"""The training flows: Stage I (dvc.yaml ``train_grounder`` when its weights are missing, then
``stage1``) and Stage II (``vae`` when missing, then ``stage2``, which registers the model).

Each passes the validation gate on the data it reads first, so a broken dataset fails the flow before
a GPU is taken. Tasks pass paths and params, never models; those that touch models are not cached and
are tagged ``sigma-gpu`` (a tag concurrency limit keeps one GPU job at a time: docs/orchestration.md).
An interrupted run continues from the stage's saved state with ``resume=True``; training tasks do
not retry on their own (a retry would start over, or resume a stale state).
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.common import mlflow_flow_run, validation_gate
from sigma.config import load_params
from sigma.train.cd import train_change_detection
from sigma.train.grounder import train_grounder_stage
from sigma.train.stage1 import CALIB, EDIT, INPAINT, train_stage1
from sigma.train.stage2 import train_stage2
from sigma.train.vae import train_vae_stage

STAGE1_DATA = [INPAINT, EDIT, CALIB]  # what train_stage1 reads (dvc.yaml stage1 deps)
STAGE2_DATA = [INPAINT, EDIT]  # what train_stage2 reads
HOUR = 3600


@task(timeout_seconds=6 * HOUR, cache_policy=NO_CACHE, tags=["sigma-gpu"])
def grounder(params_path: str, overrides: list[str], track: bool) -> dict | None:
    """Train the learned grounder when the model uses one whose weights (or cross-fitted heads,
    ``train_grounder.folds``) do not exist yet."""
    params = load_params(params_path, overrides)
    cfg, folds = params.model.grounder, params.train_grounder
    folds_missing = folds.folds and not (Path(folds.folds_out) / "fold0.safetensors").exists()
    if cfg.name != "learned" or not cfg.weights or (Path(cfg.weights).exists() and not folds_missing):
        return None
    return train_grounder_stage(params, cfg.weights, track=track)


@task(timeout_seconds=2 * HOUR, cache_policy=NO_CACHE, tags=["sigma-gpu"])
def vae(params_path: str, overrides: list[str], track: bool) -> dict | None:
    """Fit the Stage II round-trip VAE into ``vae.out`` when it is not there yet."""
    params = load_params(params_path, overrides)
    if (Path(params.vae.out) / "config.json").exists():
        return None
    return train_vae_stage(params, track=track)


@task(timeout_seconds=24 * HOUR, cache_policy=NO_CACHE, tags=["sigma-gpu"])
def stage1(params_path: str, overrides: list[str], resume: bool, metrics: str | None, track: bool) -> dict:
    """Stage I from scratch (or from its saved state): writes ``stage1.out/sigma.safetensors``."""
    return train_stage1(load_params(params_path, overrides), resume=resume, track=track, metrics=metrics)


@task(timeout_seconds=24 * HOUR, cache_policy=NO_CACHE, tags=["sigma-gpu"])
def change_detection(params_path: str, overrides: list[str], resume: bool, metrics: str | None, track: bool) -> dict:
    """The change-detection baseline, trained like Stage I: writes ``change_detection.out/sigma.safetensors``."""
    return train_change_detection(load_params(params_path, overrides), resume=resume, track=track, metrics=metrics)


@task(timeout_seconds=24 * HOUR, cache_policy=NO_CACHE, tags=["sigma-gpu"])
def stage2(
    params_path: str, overrides: list[str], resume: bool, metrics: str | None, track: bool, register_as: str | None
) -> dict:
    """Stage II from the Stage I checkpoint: writes ``stage2.out/sigma.safetensors``, registers a version."""
    return train_stage2(
        load_params(params_path, overrides), resume=resume, track=track, metrics=metrics, register=register_as
    )


@flow(name="sigma-stage1")
def stage1_flow(
    params_path: str = "params.yaml",
    overrides: list[str] | None = None,
    resume: bool = False,
    metrics: str | None = "metrics/stage1.json",
    track: bool = True,
) -> dict:
    """Gate data/synth/{inpaint,edit,calib}, train the grounder if missing, then Stage I; its summary."""
    overrides = list(overrides or [])
    with mlflow_flow_run("stage1", track):
        validation_gate(STAGE1_DATA, params_path, overrides)
        grounder(params_path, overrides, track)
        return stage1(params_path, overrides, resume, metrics, track)


@flow(name="sigma-change-detection")
def change_detection_flow(
    params_path: str = "params.yaml",
    overrides: list[str] | None = None,
    resume: bool = False,
    metrics: str | None = "metrics/cd.json",
    track: bool = True,
) -> dict:
    """Gate Stage I's data, then train the change-detection baseline (Table 1's Siamese-CD row)."""
    overrides = list(overrides or [])
    with mlflow_flow_run("change_detection", track):
        validation_gate(STAGE1_DATA, params_path, overrides)
        return change_detection(params_path, overrides, resume, metrics, track)


@flow(name="sigma-stage2")
def stage2_flow(
    params_path: str = "params.yaml",
    overrides: list[str] | None = None,
    resume: bool = False,
    metrics: str | None = "metrics/stage2.json",
    track: bool = True,
    register_as: str | None = "sigma-annotator",
) -> dict:
    """Gate data/synth/{inpaint,edit}, fit the VAE if missing, then Stage II; its summary (with the
    registered version of ``register_as`` when ``track``)."""
    overrides = list(overrides or [])
    with mlflow_flow_run("stage2", track):
        validation_gate(STAGE2_DATA, params_path, overrides)
        vae(params_path, overrides, track)
        return stage2(params_path, overrides, resume, metrics, track, register_as)


if __name__ == "__main__":
    stage1_flow()
