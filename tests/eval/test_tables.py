"""Tables and plots from metrics files written by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sigma.eval.tables import tables_stage
from tests.conftest import tiny_params


def _m(f1, iou, fp=None):
    out = {"n_manipulated": 0 if f1 is None else 10, "n_clean": 0 if fp is None else 5}
    if f1 is not None:
        out |= {"f1": f1, "iou": iou}
    if fp is not None:
        out["clean_fp_rate"] = fp
    return out


@pytest.fixture
def metrics(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "evaluate.json").write_text(json.dumps({
        "A": {"pixdiff_otsu": _m(0.5, 0.4), "sigma": _m(0.7, 0.6)},
        "B": {"pixdiff_otsu": _m(0.9, 0.8), "sigma": _m(0.8, 0.7)},
        "calib": {"pixdiff_otsu": _m(None, None, 0.2), "sigma": _m(None, None, 0.05)},
    }))
    (folder / "ablation.json").write_text(json.dumps({
        "stage2": {"A": _m(0.7, 0.6)}, "drb": {"A": _m(0.6, 0.5)}}))
    (folder / "robustness.json").write_text(json.dumps({"benchmark": "A", "points": [
        {"perturbation": p, "strength": s, "method": m, "f1": f, "iou": f}
        for p, s in (("none", 0), ("jpeg", 90), ("jpeg", 60), ("noise", 5), ("blur", 3))
        for m, f in (("sigma", 0.7), ("pixdiff_otsu", 0.5))]}))
    return folder


def test_table1_average_is_the_unweighted_mean_and_the_best_is_bold(metrics, tmp_path):
    params = tiny_params("evaluate.methods=[pixdiff_otsu, sigma]", "ablation.variants=[{name: drb, label: + DRB, "
                         "checkpoint: x}, {name: stage2, label: + Stage II, checkpoint: y}]")
    tables_stage(params, metrics, tmp_path / "reports")
    csv = pd.read_csv(tmp_path / "reports" / "table1.csv", index_col="method")
    assert csv.loc["SIGMA", "Average F1"] == pytest.approx(75.0)
    assert csv.loc["PixDiff-Otsu", "Average IoU"] == pytest.approx(60.0)
    assert csv.loc["SIGMA", "calib FP%"] == pytest.approx(5.0)
    md = (tmp_path / "reports" / "table1.md").read_text()
    otsu, sigma = (line for line in md.splitlines() if line.startswith(("| PixDiff-Otsu", "| SIGMA")))
    assert "**90.00/80.00**" in otsu and "**70.00/60.00**" in sigma      # per-column best
    assert "**75.00/65.00**" in sigma and "**5.00**" in sigma            # average and lowest FP%
    assert "\\begin{tabular}" in (tmp_path / "reports" / "table1.tex").read_text()


def test_breakdown_per_edit_kind(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    groups = {"kind/removal": _m(0.9, 0.8), "kind/addition": _m(0.4, 0.3)}
    (folder / "evaluate.json").write_text(json.dumps({"A": {
        "pixdiff_otsu": {**_m(0.5, 0.4), "groups": {"kind/removal": _m(0.5, 0.4)}},
        "sigma": {**_m(0.7, 0.6), "groups": groups}}}))
    tables_stage(tiny_params("evaluate.methods=[pixdiff_otsu, sigma]"), folder, tmp_path / "reports")
    csv = pd.read_csv(tmp_path / "reports" / "breakdown" / "A.csv", index_col="method")
    assert csv.loc["SIGMA", "kind/addition F1"] == pytest.approx(40.0)
    assert np.isnan(csv.loc["PixDiff-Otsu", "kind/addition F1"])
    assert "kind/removal (F1 %)" in (tmp_path / "reports" / "breakdown" / "A.md").read_text()


def test_ablation_rows_follow_the_configured_order(metrics, tmp_path):
    params = tiny_params("ablation.variants=[{name: drb, label: + DRB, checkpoint: x}, "
                         "{name: stage2, label: + Stage II, checkpoint: y}]")
    tables_stage(params, metrics, tmp_path / "reports")
    csv = pd.read_csv(tmp_path / "reports" / "ablation.csv", index_col="method")
    assert list(csv.index) == ["+ DRB", "+ Stage II"]
    assert list(csv["Average F1"]) == pytest.approx([60.0, 70.0])
    assert (tmp_path / "reports" / "robustness.png").stat().st_size > 1000
    jpeg = pd.read_csv(tmp_path / "reports" / "robustness_jpeg.csv", index_col="strength")
    assert list(jpeg.index) == [60, 90] and jpeg.loc[60, "sigma"] == pytest.approx(0.7)


def test_no_metrics_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="sigma evaluate"):
        tables_stage(tiny_params(), tmp_path, tmp_path / "reports")
