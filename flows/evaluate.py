"""The evaluation flow: benchmarks, robustness sweep, paper tables, then the promotion decision
(dvc.yaml ``evaluate``, ``robustness``, ``tables``, ``promote``).

By default it evaluates the registry's champion (``models:/sigma-annotator@champion``) into
``metrics/champion`` and ``reports/champion``: the nightly deployment, which leaves the DVC-tracked
``metrics/`` alone. ``pipeline_flow`` runs it on the fresh Stage II checkpoint (``evaluate.model``)
into ``metrics/`` and ``reports/`` as dvc.yaml does. Promotion moves ``@champion`` to the newest
registered version only when it wins (``sigma.eval.promote``).
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.common import mlflow_flow_run, validation_gate
from sigma.config import load_params
from sigma.eval.promote import promote as promote_stage
from sigma.eval.promote import promotion_metrics
from sigma.eval.stages import evaluate_stage, robustness_stage
from sigma.eval.tables import tables_stage

CHAMPION = "models:/sigma-annotator@champion"
HOUR = 3600


def _registry(model: str) -> None:
    """Point MLflow at the project's registry for ``models:/`` URIs (as ``sigma evaluate`` does)."""
    if ":/" in model:
        import mlflow

        from sigma.tracking import tracking_uri

        mlflow.set_tracking_uri(tracking_uri())


# Models load from the registry (an MLflow server, S3): one retry with backoff for I/O failures.
@task(retries=1, retry_delay_seconds=120, timeout_seconds=6 * HOUR, cache_policy=NO_CACHE, tags=["sigma-gpu"])
def evaluate(
    params_path: str, overrides: list[str], model: str | None, out: str, gallery: str | None, track: bool
) -> dict:
    """Every configured method on every configured benchmark -> ``out``; F1/IoU per benchmark and method."""
    params = load_params(params_path, overrides)
    _registry(model or params.evaluate.model)
    return evaluate_stage(params, Path(out), model=model, gallery=Path(gallery) if gallery else None, track=track)


@task(retries=1, retry_delay_seconds=120, timeout_seconds=6 * HOUR, cache_policy=NO_CACHE, tags=["sigma-gpu"])
def robustness(params_path: str, overrides: list[str], model: str | None, out: str, track: bool) -> dict:
    """F1 under JPEG, noise and blur of the edited image -> ``out``."""
    params = load_params(params_path, overrides)
    _registry(model or params.evaluate.model)
    return robustness_stage(params, Path(out), model=model, track=track)


@task(retries=1, retry_delay_seconds=10, timeout_seconds=600, tags=["sigma-report"])
def tables(params_path: str, overrides: list[str], metrics_dir: str, reports: str) -> dict:
    """Tables and plots from whatever metrics ``metrics_dir`` holds -> ``reports``."""
    return tables_stage(load_params(params_path, overrides), Path(metrics_dir), Path(reports))


@task(
    name="promote",
    retries=1,
    retry_delay_seconds=120,
    timeout_seconds=6 * HOUR,
    cache_policy=NO_CACHE,
    tags=["sigma-gpu"],
)
def promote_newest(params_path: str, overrides: list[str], out: str | None) -> dict:
    """Move ``@champion`` to the newest registered version if it wins by ``promote.margin``; the decision."""
    from sigma.data.storage import write_json_atomic

    decision = promote_stage(load_params(params_path, overrides))
    if out:
        write_json_atomic(out, promotion_metrics(decision))
    return decision


def is_empty_optional(spec) -> bool:
    """An optional benchmark with no pairs (the dev benchmark without ../shared): evaluation skips it,
    so the gate does too."""
    from sigma.data.pairs import ManifestError, read_manifest
    from sigma.data.storage import StorageError

    if not spec.optional:
        return False
    try:
        return not read_manifest(spec.path)
    except (ManifestError, StorageError, FileNotFoundError):
        return False  # unreadable: the gate says what is wrong


@flow(name="sigma-evaluate")
def evaluate_flow(
    model: str | None = CHAMPION,
    params_path: str = "params.yaml",
    overrides: list[str] | None = None,
    metrics_dir: str = "metrics/champion",
    reports: str = "reports/champion",
    gallery: bool = True,
    promote: bool = True,
    track: bool = True,
) -> dict:
    """Gate the pair-format benchmarks, evaluate ``model`` (None: ``evaluate.model``), sweep robustness,
    write the tables, then decide on promotion; ``{"evaluate": scores, "promotion": decision}``."""
    overrides = list(overrides or [])
    params = load_params(params_path, overrides)
    with mlflow_flow_run("evaluate", track):
        validation_gate(
            [b.path for b in params.evaluate.benchmarks if b.loader == "pairs" and not is_empty_optional(b)],
            params_path,
            overrides,
        )
        scores = evaluate(
            params_path,
            overrides,
            model,
            f"{metrics_dir}/evaluate.json",
            f"{reports}/gallery.html" if gallery else None,
            track,
        )
        robustness(params_path, overrides, model, f"{metrics_dir}/robustness.json", track)
        tables(params_path, overrides, metrics_dir, reports)
        decision = promote_newest(params_path, overrides, f"{metrics_dir}/promotion.json") if promote else None
    return {"evaluate": scores, "promotion": decision}


if __name__ == "__main__":
    evaluate_flow()
