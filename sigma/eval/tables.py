"""``sigma tables``: the paper's tables from the DVC-tracked metrics, as Markdown, CSV and LaTeX.

- ``table1``: methods x benchmarks, F1/IoU/BF (boundary F1) in %, "Average" the unweighted mean over
  the benchmarks with manipulated pairs, the best F1 of each column in bold; a benchmark with
  ``drift/<level>`` groups (real-photo dev sets) gets one more column per level, ``<benchmark> (<level>)``,
  outside the average; false positives on all-zero benchmarks (and drift levels) in their own columns;
  the intended / side-effect split (intended F1/IoU, side-effect F1/IoU and false positives) on the
  benchmarks whose pairs carry side effects.
- ``ablation``: the configured variants in order, F1/IoU/BF per ablation benchmark and their average.
- ``breakdown/<benchmark>``: F1 per edit kind and perturbation strength (the metrics' groups).
- ``robustness.png``: F1 against degradation strength, one panel per degradation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from sigma.config import Params
from sigma.data import storage
from sigma.eval.methods import method_entry

SCORES = {"F1": "f1", "IoU": "iou", "BF": "bf1"}  # column suffix -> metrics key, in a cell's order
# The intended / side-effect split (sigma/eval/metrics.py SplitScores), on benchmarks whose pairs carry side
# effects; "–" for a method that gives no split.
SPLIT_COLUMNS = {
    "split known %": "split_known_share",
    "mask F1 (split known)": "known_mask_f1",
    "intended F1": "intended_f1",
    "intended IoU": "intended_iou",
    "side-effect F1": "side_f1",
    "side-effect IoU": "side_iou",
    "side-effect FP%": "side_fp_rate",
}
DRIFT_ORDER = ("none", "light", "heavy")  # the drift levels' natural order; others follow alphabetically


def _pct(value: float | None) -> float:
    return float("nan") if value is None else 100 * value


def drift_levels(by_method: dict[str, dict], count: str) -> list[str]:
    """The ``drift/<level>`` groups of one benchmark where any method has ``count`` (``n_manipulated`` or
    ``n_clean``) pairs, in :data:`DRIFT_ORDER` then alphabetically."""
    levels = {
        g.removeprefix("drift/")
        for m in by_method.values()
        for g, gm in m.get("groups", {}).items()
        if g.startswith("drift/") and g.count("/") == 1 and gm.get(count)  # not drift/<level>/<kind>
    }
    return sorted(levels, key=lambda lv: (DRIFT_ORDER.index(lv), "") if lv in DRIFT_ORDER else (len(DRIFT_ORDER), lv))


def _columns(bench: str, by_method: dict[str, dict], count: str) -> list[tuple[str, str | None]]:
    """``(column name, group)``: the benchmark as a whole (group None), then each of its drift levels."""
    return [(bench, None)] + [(f"{bench} ({lv})", f"drift/{lv}") for lv in drift_levels(by_method, count)]


def _metric(by_method: dict[str, dict], row: str, group: str | None, key: str) -> float:
    metrics = by_method.get(row, {})
    if group is not None:
        metrics = metrics.get("groups", {}).get(group, {})
    return _pct(metrics.get(key))


def score_frame(results: dict[str, dict[str, dict]], rows: list[str], titles: dict[str, str]) -> pd.DataFrame:
    """``results[benchmark][row]`` metrics -> one row per ``rows`` entry: ``<bench> F1``/``IoU``/``BF`` (%)
    and the same per drift level (``<bench> (<level>) F1``...), ``Average F1``/``IoU``/``BF`` over the
    benchmarks with manipulated pairs (not their drift levels: each pair would count twice), ``<bench> FP%``
    (and ``<bench> (<level>) FP%``) for all-zero pairs, and the intended / side-effect split
    (:data:`SPLIT_COLUMNS`) where a benchmark's pairs carry side effects."""
    manipulated = [b for b, r in results.items() if any(m.get("n_manipulated") for m in r.values())]
    clean = [b for b, r in results.items() if any(m.get("n_clean") for m in r.values())]
    frame = pd.DataFrame(index=[titles.get(r, r) for r in rows])
    for bench in manipulated:
        for name, group in _columns(bench, results[bench], "n_manipulated"):
            for suffix, key in SCORES.items():
                frame[f"{name} {suffix}"] = [_metric(results[bench], r, group, key) for r in rows]
    if manipulated:
        for suffix in SCORES:
            frame[f"Average {suffix}"] = frame[[f"{b} {suffix}" for b in manipulated]].mean(axis=1, skipna=False)
    for bench in clean:
        for name, group in _columns(bench, results[bench], "n_clean"):
            frame[f"{name} FP%"] = [_metric(results[bench], r, group, "clean_fp_rate") for r in rows]
    for bench in [b for b, r in results.items() if any("split_known_share" in m for m in r.values())]:
        for column, key in SPLIT_COLUMNS.items():
            frame[f"{bench} {column}"] = [_metric(results[bench], r, None, key) for r in rows]
    return frame


def _fmt(value: float) -> str:
    return f"{value:.2f}" if np.isfinite(value) else "–"


def to_markdown(frame: pd.DataFrame) -> str:
    """``<name> F1``/``IoU``/``BF`` columns merged into ``F1/IoU/BF`` cells (an absent value, e.g. BF in an old
    metrics file, shows "–"); the best F1 per column (lowest FP%) in bold."""
    merged = {f"{c.removesuffix(' F1')} {s}" for c in frame.columns if c.endswith(" F1") for s in SCORES}
    cells, header = pd.DataFrame(index=frame.index), {}
    for column in frame.columns:
        name = column.removesuffix(" F1")
        if name != column:
            parts = [s for s in SCORES if f"{name} {s}" in frame.columns]
            header[name] = f"{name} ({'/'.join(parts)} %)"
            table = frame[[f"{name} {s}" for s in parts]].to_numpy()
            text = ["/".join(map(_fmt, row)) if np.isfinite(row[0]) else "–" for row in table]
        elif column in merged:  # the IoU or BF of an F1 column: in that column's cells
            continue
        else:
            text = [_fmt(v) for v in frame[column]]
        values = frame[column]
        best = values.min() if column.endswith("FP%") else values.max()
        cells[name] = [f"**{t}**" if np.isfinite(v) and v == best else t for t, v in zip(text, values, strict=True)]
    return cells.rename(columns=header).to_markdown() + "\n"


def write_table(frame: pd.DataFrame, stem: Path) -> list[Path]:
    """``stem``.md/.csv/.tex, each written atomically."""
    outputs = {
        stem.with_suffix(".md"): to_markdown(frame),
        stem.with_suffix(".csv"): frame.round(4).to_csv(index_label="method"),
        stem.with_suffix(".tex"): frame.to_latex(float_format="%.2f", na_rep="--"),
    }
    for path, text in outputs.items():
        storage.write_bytes_atomic(str(path), text.encode())
    return list(outputs)


def breakdown_frame(by_method: dict[str, dict], rows: list[str], titles: dict[str, str]) -> pd.DataFrame | None:
    """F1 (%) per group (edit kind, strength bin) of one benchmark; None when it has no groups.
    Columns are named ``<group> F1`` so that :func:`to_markdown` bolds each one's best."""
    groups = sorted({g for r in rows for g, m in by_method.get(r, {}).get("groups", {}).items() if "f1" in m})
    if not groups:
        return None
    return pd.DataFrame(
        {f"{g} F1": [_pct(by_method.get(r, {}).get("groups", {}).get(g, {}).get("f1")) for r in rows] for g in groups},
        index=[titles.get(r, r) for r in rows],
    )


def plot_robustness(report: dict, path: Path, titles: dict[str, str]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = pd.DataFrame(report["points"])
    clean = points[points.perturbation == "none"].set_index("method")["f1"]
    kinds = [k for k in ("jpeg", "noise", "blur") if k in set(points.perturbation)]
    labels = {"jpeg": "JPEG quality", "noise": "Gaussian noise σ²", "blur": "blur kernel"}
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.4), squeeze=False, sharey=True)
    for ax, kind in zip(axes[0], kinds, strict=True):
        for method, group in points[points.perturbation == kind].groupby("method", sort=False):
            xs, ys = list(group.strength), list(group.f1)
            if method in clean.index:  # the undegraded point anchors each curve
                xs, ys = ([100.0] + xs, [clean[method]] + ys) if kind == "jpeg" else ([0.0] + xs, [clean[method]] + ys)
            ax.plot(xs, ys, marker="o", label=titles.get(method, method))
        ax.set_xlabel(labels[kind])
        if kind == "jpeg":
            ax.invert_xaxis()
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"F1 on {report['benchmark']}")
    axes[0][0].set_ylim(0, 1)
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def robustness_csvs(report: dict, reports: Path) -> list[Path]:
    """``robustness_<perturbation>.csv``: strength, then one F1 column per method (DVC plots data)."""
    points = pd.DataFrame(report["points"])
    paths = []
    for kind, group in points[points.perturbation != "none"].groupby("perturbation"):
        path = reports / f"robustness_{kind}.csv"
        wide = group.pivot(index="strength", columns="method", values="f1").round(4)
        storage.write_bytes_atomic(str(path), wide.to_csv().encode())
        paths.append(path)
    return paths


def method_titles(names) -> dict[str, str]:
    titles = {}
    for name in names:
        try:
            titles[name] = method_entry(name).title
        except KeyError:
            titles[name] = name
    return titles


def write_table1(params: Params, metrics_dir: Path, reports: Path) -> list[Path]:
    """``table1`` and its per-benchmark ``breakdown`` from ``evaluate.json``."""
    results = json.loads((metrics_dir / "evaluate.json").read_text())
    rows = [m for m in params.evaluate.methods if any(m in r for r in results.values())]
    written = write_table(score_frame(results, rows, method_titles(rows)), reports / "table1")
    for bench, by_method in results.items():
        frame = breakdown_frame(by_method, rows, method_titles(rows))
        if frame is not None:
            written += write_table(frame, reports / "breakdown" / bench)
    return written


def write_ablation(params: Params, metrics_dir: Path, reports: Path) -> list[Path]:
    """The ``ablation`` table from ``ablation.json`` (``{variant: {benchmark: metrics}}``)."""
    variants = json.loads((metrics_dir / "ablation.json").read_text())
    by_bench: dict[str, dict] = {}
    for variant, benches in variants.items():
        for bench, m in benches.items():
            by_bench.setdefault(bench, {})[variant] = m
    order = [v.name for v in params.ablation.variants if v.name in variants]
    titles = {v.name: v.label for v in params.ablation.variants}
    return write_table(score_frame(by_bench, order, titles), reports / "ablation")


def write_robustness(params: Params, metrics_dir: Path, reports: Path) -> list[Path]:
    """``robustness.png`` and its CSVs from ``robustness.json``."""
    report = json.loads((metrics_dir / "robustness.json").read_text())
    titles = method_titles({p["method"] for p in report["points"]})
    return [plot_robustness(report, reports / "robustness.png", titles), *robustness_csvs(report, reports)]


# Each table and the metrics file it reads. Table 1 needs only the evaluation (`make run`); the
# ablation and robustness read the long stages (`make paper`), so dvc.yaml runs them apart.
TABLES = {
    "table1": ("evaluate.json", write_table1),
    "ablation": ("ablation.json", write_ablation),
    "robustness": ("robustness.json", write_robustness),
}


def tables_stage(params: Params, metrics_dir: Path, reports: Path, only: list[str] | None = None) -> dict:
    """Write every table of :data:`TABLES` (or those in ``only``) whose metrics exist; return the
    paths written."""
    unknown = sorted(set(only or ()) - set(TABLES))
    if unknown:
        raise ValueError(f"unknown table(s) {unknown}; known: {sorted(TABLES)}")
    written: list[Path] = []
    for name in only or TABLES:
        metrics, write = TABLES[name]
        if (metrics_dir / metrics).exists():
            written += write(params, metrics_dir, reports)
    if not written:
        wanted = [TABLES[name][0] for name in only or TABLES]
        raise FileNotFoundError(f"none of {wanted} in {metrics_dir}: run `sigma evaluate` (dvc repro evaluate) first")
    return {"written": [str(p) for p in written]}
