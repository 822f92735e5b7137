"""The data flow: the VAE the edits go through, the three synthesised training kinds, then the validation
gate (the same steps as dvc.yaml)."""

from __future__ import annotations

from prefect import flow, task

from flows.common import mlflow_flow_run
from sigma.config import DEV_KINDS, load_params
from sigma.data.stages import synth_stage, validate_stage
from sigma.data.synth import TRAINING_KINDS


@task(retries=2, retry_delay_seconds=[10, 60], timeout_seconds=3600, tags=["sigma-data"])
def synth(kind: str, params_path: str, overrides: list[str], out_root: str, track: bool = True) -> dict:
    return synth_stage(kind, load_params(params_path, overrides).data, f"{out_root}/{kind}", track=track)


@task(retries=1, retry_delay_seconds=30, tags=["sigma-data"])
def vae(params_path: str, overrides: list[str], track: bool = True) -> dict | None:
    """Fit the VAE when a synth kind needs one that does not exist yet (dvc.yaml: stage ``vae``)."""
    from pathlib import Path

    from sigma.train.vae import train_vae_stage

    params = load_params(params_path, overrides)
    kinds = [getattr(params.data, kind) for kind in (*TRAINING_KINDS, *DEV_KINDS)]
    needed = {kind.perturb.vae for kind in kinds if kind is not None} - {None}
    if not needed or all(Path(p).exists() for p in needed):
        return None
    return train_vae_stage(params, track=track)


@task(retries=1, retry_delay_seconds=10, tags=["sigma-data"])
def validate(datasets: list[str], params_path: str, overrides: list[str], report: str) -> bool:
    ok, results = validate_stage(datasets, load_params(params_path, overrides).validate_, report)
    if not ok:
        bad = {d: r if isinstance(r, str) else r.format() for d, r in results.items()}
        raise ValueError(f"validation failed: {bad}")
    return ok


@flow(name="sigma-data")
def data_flow(
    params_path: str = "params.yaml",
    overrides: list[str] | None = None,
    out_root: str = "data/synth",
    report: str = "metrics/validation.json",
    track: bool = True,
) -> dict[str, dict]:
    """Synthesise inpaint/edit/calib pairs and fail the run if any dataset breaks the suite; then the
    dev benchmarks configured (``data.dev``, ``data.dev_large``; dvc.yaml: ``synth_dev``, ``synth_dev_large``)."""
    overrides = overrides or []
    with mlflow_flow_run("data", track):
        vae(params_path, overrides, track)
        summaries = {kind: synth(kind, params_path, overrides, out_root, track) for kind in TRAINING_KINDS}
        validate([f"{out_root}/{kind}" for kind in TRAINING_KINDS], params_path, overrides, report)
        data = load_params(params_path, overrides).data
        for kind in DEV_KINDS:
            if getattr(data, kind) is not None:
                summaries[kind] = synth(kind, params_path, overrides, out_root, track)
    return summaries


if __name__ == "__main__":
    data_flow()
