"""The downstream table (``reports/downstream.{md,csv,tex}``) and its plot: one row per (detector,
label source), one F1 column per benchmark (per drift level where it has them), each the mean over
the seeds with the spread (max - min) beside it, the gain over the baseline source's detector, the
false positives on authentic images, and the label source's own mask F1 against the truth."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sigma.config import LABEL_TRUTH, Params
from sigma.data import storage

LEVEL_ORDER = ("none", "light", "heavy")


def _columns(cells: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """``(benchmark, drift level or None)`` in the metrics' benchmark order; a benchmark with drift
    levels gets one column per level holding manipulated images."""
    out: list[tuple[str, str | None]] = []
    for bench in dict.fromkeys(c["benchmark"] for c in cells):
        levels = {lvl for c in cells if c["benchmark"] == bench for lvl, m in c.get("drift", {}).items() if "f1" in m}
        ordered = sorted(levels, key=lambda lvl: (LEVEL_ORDER.index(lvl) if lvl in LEVEL_ORDER else 9, lvl))
        out += [(bench, lvl) for lvl in ordered] or [(bench, None)]
    return out


def _value(cell: dict[str, Any], level: str | None, key: str) -> float:
    figures = cell["drift"].get(level, {}) if level else cell
    return float(figures.get(key, np.nan)) * 100


def seed_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    """One row per cell and column: ``detector, source, seed, column, f1, fp`` (percent)."""
    rows = []
    columns = _columns(metrics["cells"])
    for cell in metrics["cells"]:
        for bench, level in columns:
            if cell["benchmark"] != bench:
                continue
            name = f"{bench} {level}" if level else bench
            rows.append(
                {
                    "detector": cell["detector"],
                    "source": cell["source"],
                    "seed": cell["seed"],
                    "column": name,
                    "f1": _value(cell, level, "f1"),
                    "fp": _value(cell, level, "clean_fp_rate"),
                }
            )
    return pd.DataFrame(rows)


def summary_frame(metrics: dict[str, Any], labels: dict[str, Any], baseline: str) -> pd.DataFrame:
    """The table: per (detector, source) the label F1, and per column the mean F1, its spread over
    seeds, the number of seeds, the gain over ``baseline``'s mean, and the authentic-image FP%."""
    seeds = seed_frame(metrics)
    grouped = seeds.groupby(["detector", "source", "column"], sort=False)
    stats = grouped.agg(
        f1=("f1", "mean"), spread=("f1", lambda s: s.max() - s.min()), seeds=("f1", "size"), fp=("fp", "mean")
    )
    rows: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)

    def other(detector: str, source: str, column: str, key: str) -> float:
        return stats.loc[(detector, source, column), key] if (detector, source, column) in stats.index else np.nan

    for (detector, source, column), row in stats.iterrows():
        entry = rows[(detector, source)]
        entry["label F1"] = label_f1(labels, source)
        base_seeds = other(detector, baseline, column, "seeds")
        # A gain counts as clear only when both cells have several seeds and it exceeds both spreads.
        clear = row["seeds"] > 1 and base_seeds > 1
        entry |= {
            f"{column} F1": row["f1"],
            f"{column} spread": row["spread"],
            f"{column} seeds": row["seeds"],
            f"{column} gain": row["f1"] - other(detector, baseline, column, "f1"),
            f"{column} gain clear": float(
                clear
                and row["f1"] - other(detector, baseline, column, "f1")
                > max(row["spread"], other(detector, baseline, column, "spread"))
            ),
            f"{column} % of truth": share_of_truth(row["f1"], other(detector, LABEL_TRUTH, column, "f1")),
        }
        if np.isfinite(row["fp"]):
            entry[f"{column} FP%"] = row["fp"]
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=["detector", "labels"])
    return frame


MIN_TRUTH_F1 = 1.0  # percent: a truth-trained detector below this did not learn, so no share is taken of it


def share_of_truth(f1: float, truth_f1: float) -> float:
    """``f1`` as a percentage of the truth-trained detector's F1; NaN when that one learnt nothing."""
    return 100 * f1 / truth_f1 if truth_f1 >= MIN_TRUTH_F1 else np.nan


def label_f1(labels: dict[str, Any], source: str) -> float:
    """The source's mask F1 (percent) against the truth on the training split; 100 for the truth."""
    if source == LABEL_TRUTH or labels.get(source, {}).get("model") == LABEL_TRUTH:
        return 100.0
    quality = labels.get(source, {}).get("label_quality", {})
    return float(quality.get("train", quality.get("all", {})).get("f1", np.nan)) * 100


def _fmt(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if np.isfinite(value) else "–"


def to_markdown(frame: pd.DataFrame, baseline: str) -> str:
    """F1 cells as ``mean ±spread/2 (n)``, the gain signed, FP% plain."""
    columns = [c.removesuffix(" F1") for c in frame.columns if c.endswith(" F1") and c != "label F1"]
    header = ["detector", "labels", "label F1 (train)"]
    for column in columns:
        header += [f"{column} F1", f"gain vs {baseline}", "% of truth"]
        header += [f"{column} FP%"] if f"{column} FP%" in frame else []
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (detector, source), row in frame.iterrows():
        cells = [detector, source, _fmt(row["label F1"])]
        for column in columns:
            n = int(row[f"{column} seeds"])
            f1 = _fmt(row[f"{column} F1"])
            cells.append(f"{f1} ±{_fmt(row[f'{column} spread'] / 2)} ({n})" if n > 1 else f"{f1} (1)")
            gain, clear = row[f"{column} gain"], "*" if row[f"{column} gain clear"] else ""
            cells.append("–" if source == baseline else f"{gain:+.2f}{clear}" if np.isfinite(gain) else "–")
            cells.append(_fmt(row[f"{column} % of truth"], 1))
            if f"{column} FP%" in frame:
                cells.append(_fmt(row[f"{column} FP%"]))
        lines.append("| " + " | ".join(cells) + " |")
    legend = (
        "\nF1 and FP% in percent, IMDL-BenCo's conventions: F1 averaged over manipulated images, FP% the "
        "predicted share of authentic images' pixels. `±` is half the range over the seeds (in brackets: "
        f"how many); the gain is over the detector of the same architecture trained on `{baseline}` labels, "
        "`*` where both cells have several seeds and the gain exceeds both their ranges; % of truth: the F1 "
        f"as a share of the truth-trained detector's (– where that one scores under {MIN_TRUTH_F1:g} F1: it did "
        "not learn). Label F1: the source's own masks against the truth on "
        "the training split.\n"
    )
    return "\n".join(lines) + "\n" + legend


def plot(frame: pd.DataFrame, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [c for c in frame.columns if c.endswith(" F1") and c != "label F1"]
    fig, axes = plt.subplots(1, len(columns), figsize=(4.5 * len(columns), 0.35 * len(frame) + 1.5), squeeze=False)
    labels = [f"{d} / {s}" for d, s in frame.index]
    for ax, column in zip(axes[0], columns, strict=True):
        spread = frame[column.replace(" F1", " spread")] / 2
        ax.barh(labels, frame[column], xerr=spread, color="tab:blue")
        ax.set_title(column)
        ax.set_xlabel("F1 %")
        ax.invert_yaxis()
    for ax in axes[0][1:]:
        ax.set_yticklabels([])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def report_stage(params: Params, metrics: str | Path, labels: str | Path, reports: str | Path) -> list[Path]:
    """``reports/downstream.{md,csv,tex}``, ``downstream.png`` and ``downstream_f1.csv`` (DVC plots)."""
    cfg = params.downstream
    frame = summary_frame(json.loads(Path(metrics).read_text()), json.loads(Path(labels).read_text()), cfg.baseline)
    stem = Path(reports) / "downstream"
    stem.parent.mkdir(parents=True, exist_ok=True)
    outputs = {
        stem.with_suffix(".md"): "# Detectors trained on each label source\n\n" + to_markdown(frame, cfg.baseline),
        stem.with_suffix(".csv"): frame.round(4).to_csv(),
        stem.with_suffix(".tex"): frame.to_latex(float_format="%.2f", na_rep="--"),
    }
    long = frame[[c for c in frame.columns if c.endswith(" F1")]].reset_index()
    long.insert(0, "cell", long["detector"] + "/" + long["labels"])
    outputs[stem.with_name("downstream_f1.csv")] = (
        long.drop(columns=["detector", "labels"]).round(4).to_csv(index=False)
    )
    for path, text in outputs.items():
        storage.write_bytes_atomic(str(path), text.encode())
    return [*outputs, plot(frame, stem.with_suffix(".png"))]
