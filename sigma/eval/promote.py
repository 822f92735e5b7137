"""``sigma promote``: move the registry alias (``champion``) to a new model version only when it beats
the current champion's average F1, on the same benchmarks, by at least ``promote.margin``.

Both versions are loaded from the registry and evaluated here, so a version whose registered
artifact does not load or does not evaluate is never promoted. The decision and both scores are
recorded as ``promotion.*`` tags on the candidate version and returned (DVC metrics).
"""

from __future__ import annotations

import math

import mlflow
from mlflow.exceptions import MlflowException

from sigma.config import Params
from sigma.eval.benchmarks import find_benchmark
from sigma.eval.stages import evaluate_methods


def average_f1(params: Params, model_uri: str, benchmarks: list[str]) -> float:
    """Unweighted mean over ``benchmarks`` of the model's per-image F1; raises ``ValueError`` when no
    benchmark has a manipulated pair or a benchmark's pairs were all rejected."""
    cfg = params.evaluate
    specs = [find_benchmark(cfg, name) for name in benchmarks]
    results = evaluate_methods(cfg, specs, ["sigma"], model=model_uri)
    f1s = [r["sigma"].summary["f1"] for r in results.values() if r["sigma"].summary.get("n_manipulated")]
    if not f1s or not all(math.isfinite(f) for f in f1s):
        raise ValueError(f"{model_uri}: no F1 on {benchmarks} (no manipulated pair was scored)")
    return sum(f1s) / len(f1s)


def promotion_benchmarks(params: Params) -> list[str]:
    """``promote.benchmarks``, or every evaluate benchmark (all-zero ones give no F1 and drop out)."""
    if params.promote.benchmarks:
        return list(params.promote.benchmarks)
    return [b.name for b in params.evaluate.benchmarks]


def candidate_version(name: str, checkpoint: str) -> str:
    """The registered version of ``name`` that holds ``checkpoint``'s weights."""
    from sigma.model.checkpoint import load_checkpoint, weights_digest
    from sigma.model.pyfunc import version_with_digest

    digest = weights_digest(load_checkpoint(checkpoint, device="cpu"))
    version = version_with_digest(name, digest)
    if version is None:
        raise ValueError(
            f"no version of {name!r} at {mlflow.get_tracking_uri()} holds the weights of {checkpoint} ({digest}): "
            "register them with `sigma train stage2` (dvc repro -f stage2)"
        )
    return version


def promotion_metrics(decision: dict) -> dict:
    """The decision as DVC metrics: version numbers are one registry's history, so they stay in MLflow
    (the candidate's ``promotion.*`` tags) and out of git."""
    return {k: v for k, v in decision.items() if k not in ("candidate_version", "champion_version")}


def promote(params: Params, version: str | None = None, checkpoint: str | None = None) -> dict:
    """Decide on ``version`` (default: the version holding ``checkpoint``'s weights, else the newest
    version of ``promote.name``); returns the decision."""
    from sigma.tracking import tracking_uri

    cfg = params.promote
    mlflow.set_tracking_uri(tracking_uri())
    client = mlflow.MlflowClient()
    try:
        versions = client.search_model_versions(f"name='{cfg.name}'")
    except MlflowException as exc:
        raise ValueError(f"cannot read the registry at {mlflow.get_tracking_uri()}: {exc.message}") from None
    if not versions:
        raise ValueError(
            f"no registered model {cfg.name!r} at {mlflow.get_tracking_uri()}: run `sigma train stage2` first"
        )
    if version is None:
        version = candidate_version(cfg.name, checkpoint) if checkpoint else str(max(int(v.version) for v in versions))
    benchmarks = promotion_benchmarks(params)
    try:
        champion = str(client.get_model_version_by_alias(cfg.name, cfg.alias).version)
    except MlflowException:
        champion = None
    decision: dict = {
        "model": cfg.name,
        "candidate_version": version,
        "champion_version": champion,
        "alias": cfg.alias,
        "margin": cfg.margin,
        "benchmarks": benchmarks,
    }
    try:
        decision["candidate_f1"] = average_f1(params, f"models:/{cfg.name}/{version}", benchmarks)
    except Exception as exc:  # noqa: BLE001 - whatever broke, the version must not be promoted
        decision |= {"promoted": False, "reason": f"candidate failed evaluation: {type(exc).__name__}: {exc}"}
        return _record(client, decision)
    if champion == version:
        decision |= {"promoted": False, "reason": f"the candidate already holds @{cfg.alias}"}
        return _record(client, decision)
    if champion is not None:
        decision["champion_f1"] = average_f1(params, f"models:/{cfg.name}@{cfg.alias}", benchmarks)
        gain = decision["candidate_f1"] - decision["champion_f1"]
        promoted = gain >= cfg.margin
        reason = f"average F1 {'+' if gain >= 0 else ''}{gain:.4f} vs the champion (margin {cfg.margin})"
    else:
        promoted, reason = True, f"no @{cfg.alias} yet"
    if promoted:
        client.set_registered_model_alias(cfg.name, cfg.alias, version)
    decision |= {"promoted": promoted, "reason": reason}
    return _record(client, decision)


def _record(client: mlflow.MlflowClient, decision: dict) -> dict:
    for key in ("promoted", "reason", "candidate_f1", "champion_f1", "champion_version", "margin", "benchmarks"):
        if decision.get(key) is not None:
            client.set_model_version_tag(
                decision["model"], decision["candidate_version"], f"promotion.{key}", str(decision[key])
            )
    return decision
