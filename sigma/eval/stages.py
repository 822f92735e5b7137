"""The evaluation stages (``sigma evaluate``, DVC ``evaluate``/``robustness``/``ablation_eval``): methods
x benchmarks through :func:`sigma.eval.evaluate.evaluate`, written as DVC metrics and to MLflow."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from sigma.config import BenchmarkSpec, EvaluateParams, Params
from sigma.data import storage
from sigma.eval.benchmarks import find_benchmark, iter_benchmark
from sigma.eval.evaluate import EvalResult, evaluate
from sigma.eval.methods import build_method
from sigma.eval.methods.base import Method, method_entry, split_method
from sigma.eval.methods.sigma_model import SigmaMethod
from sigma.eval.robustness import sweep

console = Console(stderr=True)


class MethodCache:
    """Methods by name, built once: the three model-based methods share one loaded model."""

    def __init__(self, cfg: EvaluateParams, model: str | None = None):
        self.cfg, self.model = cfg, model or cfg.model
        self._built: dict[str, Method] = {}

    def __call__(self, name: str):
        if name not in self._built:
            method = build_method(name, model=self.model, threshold=self.cfg.threshold, batch_size=self.cfg.batch_size)
            shared = next(
                (
                    m
                    for n, m in self._built.items()
                    if isinstance(m, SigmaMethod) and self.model_of(n) == self.model_of(name)
                ),
                None,
            )
            if isinstance(method, SigmaMethod) and shared is not None:
                method.model = shared.model
            self._built[name] = method
        return self._built[name]

    def model_of(self, name: str) -> str:
        """The weights a method runs: pinned (``name@path``), its own, or the evaluated model."""
        return split_method(name)[1] or method_entry(name).default_model or self.model


def evaluate_methods(
    cfg: EvaluateParams, benchmarks: list[BenchmarkSpec], methods: list[str], model: str | None = None
) -> dict[str, dict[str, EvalResult]]:
    """``{benchmark: {method: result}}``; a benchmark's pairs are listed once and reused per method."""
    build = MethodCache(cfg, model)
    results: dict[str, dict[str, EvalResult]] = {}
    for spec in benchmarks:
        pairs = list(iter_benchmark(spec))
        if not pairs and spec.optional:
            console.print(f"[yellow]benchmark {spec.name!r} ({spec.path}) is empty: skipped (optional)")
            continue
        if not pairs:
            raise ValueError(f"benchmark {spec.name!r} ({spec.loader} at {spec.path}) has no pairs with masks")
        results[spec.name] = {
            name: evaluate(
                build(name), pairs, batch_size=cfg.batch_size, total=len(pairs), description=f"{spec.name}: {name}"
            )
            for name in methods
            if spec.methods is None or split_method(name)[0] in spec.methods  # sigma@CKPT is a sigma
        }
    return results


def _log(name: str, params: Params, metrics: dict, artifacts: list[Path], track: bool) -> None:
    if not track:
        return
    import mlflow

    from sigma.tracking import flatten, maybe_run

    with maybe_run(True, name, params.model_dump(mode="json", include={"evaluate", "ablation", "promote"}), stage=name):
        numeric = {k: float(v) for k, v in flatten(metrics).items() if isinstance(v, int | float)}
        mlflow.log_metrics(numeric)
        for path in artifacts:
            if path.exists():
                mlflow.log_artifact(str(path))


def evaluate_stage(
    params: Params,
    out: Path,
    *,
    methods: list[str] | None = None,
    model: str | None = None,
    benchmarks: list[str] | None = None,
    gallery: Path | None = None,
    track: bool = True,
) -> dict:
    """Every configured method on every configured benchmark -> ``out`` (DVC metrics); rejected
    pairs -> ``out`` with ``.rejects.jsonl``; the gallery of the ``sigma`` method's worst cases."""
    from sigma.eval.gallery import write_gallery

    cfg = params.evaluate
    specs = [find_benchmark(cfg, b) for b in benchmarks] if benchmarks else list(cfg.benchmarks)
    if not specs:
        raise ValueError("no benchmarks: add some to evaluate.benchmarks in params.yaml")
    results = evaluate_methods(cfg, specs, methods or cfg.methods, model)
    specs = [s for s in specs if s.name in results]  # an empty optional benchmark was skipped
    metrics = {bench: {m: r.metrics() for m, r in by_method.items()} for bench, by_method in results.items()}
    storage.write_json_atomic(str(out), metrics)
    rejects = [
        {"benchmark": b, "method": m, **rej}
        for b, by_m in results.items()
        for m, r in by_m.items()
        for rej in r.rejects
    ]
    rejects_path = out.with_suffix(".rejects.jsonl")
    storage.write_bytes_atomic(str(rejects_path), "".join(json.dumps(r) + "\n" for r in rejects).encode())
    if gallery is not None and "sigma" in (methods or cfg.methods):
        write_gallery(
            gallery,
            {b: r["sigma"] for b, r in results.items()},
            specs,
            MethodCache(cfg, model)("sigma"),
            cfg.gallery_size,
        )
    _log("evaluate", params, metrics, [out, rejects_path] + ([gallery] if gallery else []), track)
    return {
        b: {m: {k: v for k, v in r.items() if k in ("f1", "iou", "clean_fp_rate")} for m, r in by_m.items()}
        for b, by_m in metrics.items()
    }


def robustness_stage(params: Params, out: Path, *, model: str | None = None, track: bool = True) -> dict:
    """F1 of each robustness method on the robustness benchmark at every degradation point -> ``out``:
    ``{"points": [{perturbation, strength, method, f1, iou}, ...]}`` (also DVC plots data)."""
    cfg = params.evaluate
    spec = find_benchmark(cfg, cfg.robustness.benchmark)
    pairs = list(iter_benchmark(spec))
    build = MethodCache(cfg, model)
    points = []
    for perturbation, strength, degrade in sweep(cfg.robustness):
        for name in cfg.robustness.methods:
            result = evaluate(
                build(name),
                pairs,
                batch_size=cfg.batch_size,
                transform=degrade,
                total=len(pairs),
                description=f"{perturbation} {strength:g}: {name}",
            )
            points.append(
                {
                    "perturbation": perturbation,
                    "strength": strength,
                    "method": name,
                    "f1": result.summary.get("f1"),
                    "iou": result.summary.get("iou"),
                }
            )
    report = {"benchmark": spec.name, "points": points}
    storage.write_json_atomic(str(out), report)
    curves = {f"{p['method']}.{p['perturbation']}.{p['strength']:g}.f1": p["f1"] for p in points if p["f1"] is not None}
    _log("robustness", params, curves, [out], track)
    return {"points": len(points)}


def ablation_stage(params: Params, out: Path, *, track: bool = True) -> dict:
    """Each ablation variant's checkpoint (the ``sigma`` method) on the ablation benchmarks -> ``out``:
    ``{variant: {benchmark: metrics}}``."""
    cfg = params.evaluate
    specs = [find_benchmark(cfg, name) for name in params.ablation.benchmarks]
    report = {}
    for variant in params.ablation.variants:
        checkpoint = params.ablation.checkpoint_of(variant)
        if not Path(checkpoint).is_file():
            raise FileNotFoundError(
                f"ablation variant {variant.name!r}: no checkpoint at {checkpoint} "
                "(train it with `sigma train ablation` or `dvc repro ablation_train`)"
            )
        results = evaluate_methods(cfg, specs, ["sigma"], model=checkpoint)
        report[variant.name] = {bench: by_method["sigma"].metrics() for bench, by_method in results.items()}
    storage.write_json_atomic(str(out), report)
    _log("ablation", params, report, [out], track)
    return {v: {b: m.get("f1") for b, m in r.items()} for v, r in report.items()}
