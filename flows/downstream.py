"""The downstream experiment as one flow (dvc.yaml ``synth_downstream`` … ``downstream_report``): the
corpus when it is missing, its labels from every source, every detector trained on every source,
scored, tabulated. Tasks pass paths and params; the training and labelling tasks take the GPU tag."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.common import mlflow_flow_run, validation_gate
from sigma.config import load_params
from sigma.data.stages import synth_stage
from sigma.downstream.evaluate import evaluate_stage
from sigma.downstream.labels import labels_stage
from sigma.downstream.report import report_stage
from sigma.downstream.train import train_stage

HOUR = 3600


@task(retries=1, retry_delay_seconds=60, timeout_seconds=2 * HOUR, cache_policy=NO_CACHE, tags=["sigma-data"])
def corpus(params_path: str, overrides: list[str], track: bool) -> str:
    """Synthesise ``downstream.corpus`` unless it holds a manifest already."""
    params = load_params(params_path, overrides)
    if not Path(params.downstream.corpus, "manifest.jsonl").exists():
        synth_stage("downstream", params.data, params.downstream.corpus, track=track)
    return params.downstream.corpus


@task(retries=1, retry_delay_seconds=120, timeout_seconds=12 * HOUR, cache_policy=NO_CACHE, tags=["sigma-gpu"])
def labels(params_path: str, overrides: list[str], metrics: str, track: bool) -> dict:
    return labels_stage(load_params(params_path, overrides), metrics, track=track)


@task(timeout_seconds=24 * HOUR, cache_policy=NO_CACHE, tags=["sigma-gpu"])
def train(params_path: str, overrides: list[str], metrics: str, track: bool) -> list[dict]:
    return train_stage(load_params(params_path, overrides), metrics, track=track)


@task(retries=1, retry_delay_seconds=60, timeout_seconds=6 * HOUR, cache_policy=NO_CACHE, tags=["sigma-gpu"])
def evaluate(params_path: str, overrides: list[str], out: str, track: bool) -> dict:
    return evaluate_stage(load_params(params_path, overrides), out, track=track)


@task(retries=1, retry_delay_seconds=10, timeout_seconds=600, tags=["sigma-report"])
def report(params_path: str, overrides: list[str], metrics: str, labels_metrics: str, reports: str) -> list[str]:
    written = report_stage(load_params(params_path, overrides), metrics, labels_metrics, reports)
    return [str(p) for p in written]


@flow(name="sigma-downstream")
def downstream_flow(
    params_path: str = "params.yaml",
    overrides: list[str] | None = None,
    metrics_dir: str = "metrics",
    reports: str = "reports",
    track: bool = True,
) -> dict:
    """Corpus -> labels -> detectors -> scores -> ``reports/downstream.md``; the table's files by name."""
    overrides = list(overrides or [])
    with mlflow_flow_run("downstream", track):
        validation_gate([corpus(params_path, overrides, track)], params_path, overrides)
        labels_metrics = f"{metrics_dir}/downstream_labels.json"
        labels(params_path, overrides, labels_metrics, track)
        train(params_path, overrides, f"{metrics_dir}/downstream_train.json", track)
        evaluate(params_path, overrides, f"{metrics_dir}/downstream.json", track)
        written = report(params_path, overrides, f"{metrics_dir}/downstream.json", labels_metrics, reports)
    return {"reports": written}


if __name__ == "__main__":
    downstream_flow()
