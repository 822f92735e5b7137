"""What the SIGMA flows share: the validation gate a stage passes before it reads its data, and the
link between a Prefect flow run and its MLflow runs.

The link goes both ways. :func:`mlflow_flow_run` opens one MLflow run per flow run, named after the
flow and tagged ``prefect.flow_run_id`` (plus the flow run's name, flow, deployment and UI URL), and
makes it the parent of every stage run opened inside: ``sigma.tracking.start_run`` nests under
``$SIGMA_PIPELINE_RUN_ID`` (:data:`sigma.tracking.PIPELINE_RUN_ENV`), as it does for ``sigma pipeline``.
A sub-flow's run nests under its caller's, so ``pipeline_flow`` gives pipeline > stage1 > training
run. When the flow ends, the stage runs it parented get the ``prefect.*`` tags too, and the run ends
FINISHED or FAILED with the flow. The other way, the MLflow run id, experiment and URL are recorded
in the flow run as a Prefect artifact (key ``mlflow-<flow>``): a link artifact when the tracking
server is HTTP, else a markdown note with the ``mlflow ui`` command that shows it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from sigma.config import load_params
from sigma.data.stages import validate_stage
from sigma.tracking import PIPELINE_RUN_ENV, git_commit, tracking_uri

EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"  # sigma.tracking.start_run's experiment: the same one here


class ValidationFailed(ValueError):
    """A dataset broke the expectation suite: a retry cannot help, so the gate does not retry."""


class DatasetUnreadable(OSError):
    """No failed expectation, but a manifest could not be read (e.g. S3 down): the gate retries."""


def _retry_unless_invalid(task, task_run, state) -> bool:
    return not isinstance(state.data, ValidationFailed)


@task(
    retries=2,
    retry_delay_seconds=[10, 60],
    retry_condition_fn=_retry_unless_invalid,
    timeout_seconds=1800,
    cache_policy=NO_CACHE,
    tags=["sigma-data"],
)  # never cached: it must look at the data as it is now
def validation_gate(datasets: list[str], params_path: str, overrides: list[str]) -> bool:
    """Fail the flow before a stage reads ``datasets`` if any breaks the suite (``validate`` in params).

    Writes no report: ``metrics/validation.json`` belongs to the data flow's (and dvc.yaml's) validate."""
    ok, results = validate_stage(datasets, load_params(params_path, overrides).validate_)
    if ok:
        return True
    bad = {d: r for d, r in results.items() if isinstance(r, str) or not r.success}
    if all(isinstance(r, str) for r in bad.values()):
        raise DatasetUnreadable(f"cannot read {bad}")
    raise ValidationFailed(
        "validation failed: " + "; ".join(r if isinstance(r, str) else r.format() for r in bad.values())
    )


def _prefect_tags() -> dict[str, str]:
    from prefect.runtime import deployment, flow_run
    from prefect.settings import PREFECT_UI_URL

    tags = {
        "prefect.flow_run_id": flow_run.id,
        "prefect.flow_run_name": flow_run.name,
        "prefect.flow_name": flow_run.flow_name,
        "prefect.deployment_id": deployment.id,
        "prefect.flow_run_url": flow_run.ui_url if PREFECT_UI_URL.value() else None,
    }
    return {k: str(v) for k, v in tags.items() if v}


def artifact_key(name: str) -> str:
    """``mlflow-<flow>`` as Prefect takes it: lowercase letters, digits and dashes ("change_detection")."""
    return "mlflow-" + re.sub(r"[^a-z0-9-]+", "-", name.lower())


def _record_in_prefect(name: str, run_id: str, experiment_id: str) -> None:
    uri = tracking_uri()
    key = artifact_key(name)
    text = f"MLflow run {run_id} (experiment {experiment_id})"
    if uri.startswith(("http://", "https://")):
        create_link_artifact(
            f"{uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}",
            link_text=text,
            key=key,
            description="The MLflow run of this flow run; its stage runs nest under it.",
        )
    else:
        create_markdown_artifact(
            f"{text}\n\nTracking URI: `{uri}`. See it with `mlflow ui --backend-store-uri {uri}`, then "
            f"http://127.0.0.1:5000/#/experiments/{experiment_id}/runs/{run_id}",
            key=key,
            description="The MLflow run of this flow run; its stage runs nest under it.",
        )


@contextmanager
def mlflow_flow_run(name: str, track: bool = True) -> Iterator[str | None]:
    """The MLflow parent run of this flow run (yields its id; nothing when ``track`` is off).

    Opened with ``MlflowClient.create_run``, not ``mlflow.start_run``: it is not the thread's active
    run, so the stage runs (``mlflow.start_run``, not nested) open as before and point at it by tag."""
    if not track:
        yield None
        return
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    experiment = mlflow.set_experiment(os.environ.get(EXPERIMENT_ENV, "sigma"))
    client = mlflow.MlflowClient()
    prefect = _prefect_tags()
    outer = os.environ.get(PIPELINE_RUN_ENV)
    tags = prefect | {"sigma.stage": name} | ({"mlflow.parentRunId": outer} if outer else {})
    if commit := git_commit():
        tags["git.commit"] = commit
    run_id = client.create_run(experiment.experiment_id, tags=tags, run_name=name).info.run_id
    status = "FAILED"
    os.environ[PIPELINE_RUN_ENV] = run_id
    try:
        _record_in_prefect(name, run_id, experiment.experiment_id)
        yield run_id
        status = "FINISHED"
    finally:
        if outer:
            os.environ[PIPELINE_RUN_ENV] = outer
        else:
            os.environ.pop(PIPELINE_RUN_ENV, None)
        try:
            children = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")
            for child in children:
                if "prefect.flow_run_id" not in child.data.tags:  # a sub-flow's run keeps its own
                    for key, value in prefect.items():
                        client.set_tag(child.info.run_id, key, value)
            client.set_terminated(run_id, status)
        except Exception as exc:  # noqa: BLE001 - a tracking hiccup must not hide the flow's own outcome
            get_run_logger().warning("could not close MLflow run %s: %s", run_id, exc)
