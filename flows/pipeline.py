"""The whole pipeline as one flow: data (synthesis + validation) -> Stage I -> Stage II -> the
change-detection baseline -> evaluation -> promotion -> corpus annotation -> the downstream
experiment, the order of dvc.yaml (less the ablation study, which is DVC-only).

Every stage is its own sub-flow (flows/data.py, flows/train.py, flows/evaluate.py, flows/annotate.py)
and each passes a validation gate on the data it reads, so a dataset that breaks the suite stops the
run before the next stage; a failed stage fails the pipeline. Its MLflow run is the parent of the
stages' (flows/common.py). For ``dvc repro`` with the same stage functions, see ``make run``.
"""

from __future__ import annotations

import subprocess

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from flows.annotate import annotate_corpus_flow
from flows.common import mlflow_flow_run
from flows.data import data_flow
from flows.downstream import downstream_flow
from flows.evaluate import evaluate_flow
from flows.train import change_detection_flow, stage1_flow, stage2_flow
from sigma.data.remote import configure_dvc_remote


# DVC holds a repository lock: tasks tagged "dvc" run one at a time under a concurrency limit of 1.
@task(
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=10),
    timeout_seconds=3600,
    cache_policy=NO_CACHE,
    tags=["dvc"],
)
def dvc_pull(targets: list[str]) -> None:
    """Fetch DVC-tracked inputs from the remote (a worker without ``data/raw``: ``pull_data=True``):
    ``SIGMA_STORAGE`` when the worker has it, else the committed one."""
    configure_dvc_remote()
    subprocess.run(["dvc", "pull", *targets], check=True)


@flow(name="sigma-pipeline")
def pipeline_flow(
    params_path: str = "params.yaml",
    overrides: list[str] | None = None,
    resume: bool = False,
    pull_data: bool = False,
    annotate: bool = True,
    downstream: bool = True,
    track: bool = True,
) -> dict:
    """Run every stage in order; their summaries by stage. ``resume`` continues interrupted training
    from its saved state; the annotation always resumes (committed shards are kept)."""
    overrides = list(overrides or [])
    with mlflow_flow_run("pipeline", track):
        if pull_data:
            dvc_pull(["data.dvc"])
        summaries = {"data": data_flow(params_path, overrides, track=track)}
        summaries["stage1"] = stage1_flow(params_path, overrides, resume=resume, track=track)
        summaries["stage2"] = stage2_flow(params_path, overrides, resume=resume, track=track)
        summaries["change_detection"] = change_detection_flow(params_path, overrides, resume=resume, track=track)
        summaries["evaluate"] = evaluate_flow(
            model=None,
            params_path=params_path,
            overrides=overrides,
            metrics_dir="metrics",
            reports="reports",
            track=track,
        )
        if annotate:
            summaries["annotate"] = annotate_corpus_flow(
                params_path=params_path, overrides=overrides, resume=True, runner="local", track=track
            )
        if downstream:
            summaries["downstream"] = downstream_flow(params_path, overrides, track=track)
    return summaries


if __name__ == "__main__":
    pipeline_flow()
