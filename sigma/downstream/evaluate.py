"""Score every trained detector of the downstream experiment with IMDL-BenCo's conventions: pixel
F1/IoU averaged over manipulated images, the false-positive pixel rate on authentic ones, per
benchmark and per drift level where a benchmark has them (the real-photo dev benchmark)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sigma.config import BenchmarkSpec, Params
from sigma.data import storage
from sigma.eval.stages import evaluate_methods

KEYS = ("f1", "iou", "clean_fp_rate", "n_manipulated", "n_clean")


def _figures(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: metrics[k] for k in KEYS if k in metrics}


def evaluate_stage(
    params: Params, out: str | Path, extra: list[BenchmarkSpec] | None = None, track: bool = True
) -> dict[str, Any]:
    """``{"cells": [...]}`` into ``out`` (DVC metrics): one entry per (detector, source, seed,
    benchmark) with its figures and, for the benchmarks with drift levels, ``drift`` per level.
    ``extra``: more benchmarks (e.g. a pair-format dataset named on the command line)."""
    cfg = params.downstream
    specs = [*cfg.benchmarks, *(extra or [])]
    if not specs:
        raise ValueError("no benchmarks: add some to downstream.benchmarks in params.yaml, or name one")
    weights = {f"detector@{cfg.weights(*cell)}": cell for cell in cfg.cells()}
    for cell in weights.values():
        if not Path(cfg.weights(*cell)).exists():
            raise FileNotFoundError(f"{cfg.weights(*cell)} not found: run `sigma downstream train` first")
    evaluation = params.evaluate.model_copy(update={"batch_size": cfg.batch_size})
    results = evaluate_methods(evaluation, specs, list(weights))
    cells = []
    for benchmark, by_method in results.items():
        for method, result in by_method.items():
            detector, source, seed = weights[method]
            drift = {
                group.split("/", 1)[1]: _figures(m) for group, m in result.groups.items() if group.startswith("drift/")
            }
            cells.append(
                {"detector": detector, "source": source, "seed": seed, "benchmark": benchmark}
                | _figures(result.summary)
                | ({"drift": drift} if drift else {})
            )
    report = {"benchmarks": list(results), "cells": cells}
    storage.write_json_atomic(str(out), report)
    if track:
        import mlflow

        from sigma.tracking import maybe_run

        with maybe_run(True, "downstream_evaluate", params.model_dump(mode="json", include={"downstream"})):
            mlflow.log_artifact(str(out))
    return report
