"""Tables and plots from metrics files written by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sigma.eval.tables import tables_stage
from tests.conftest import tiny_params


def _m(f1, iou, fp=None, bf1=None):
    out = {"n_manipulated": 0 if f1 is None else 10, "n_clean": 0 if fp is None else 5}
    if f1 is not None:
        out |= {"f1": f1, "iou": iou}
    if bf1 is not None:
        out["bf1"] = bf1
    if fp is not None:
        out["clean_fp_rate"] = fp
    return out


@pytest.fixture
def metrics(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "evaluate.json").write_text(
        json.dumps(
            {
                "A": {"pixdiff_otsu": _m(0.5, 0.4, bf1=0.3), "sigma": _m(0.7, 0.6, bf1=0.5)},
                "B": {"pixdiff_otsu": _m(0.9, 0.8, bf1=0.6), "sigma": _m(0.8, 0.7, bf1=0.55)},
                "calib": {"pixdiff_otsu": _m(None, None, 0.2), "sigma": _m(None, None, 0.05)},
            }
        )
    )
    (folder / "ablation.json").write_text(json.dumps({"stage2": {"A": _m(0.7, 0.6)}, "drb": {"A": _m(0.6, 0.5)}}))
    (folder / "robustness.json").write_text(
        json.dumps(
            {
                "benchmark": "A",
                "points": [
                    {"perturbation": p, "strength": s, "method": m, "f1": f, "iou": f}
                    for p, s in (("none", 0), ("jpeg", 90), ("jpeg", 60), ("noise", 5), ("blur", 3))
                    for m, f in (("sigma", 0.7), ("pixdiff_otsu", 0.5))
                ],
            }
        )
    )
    return folder


def test_table1_average_is_the_unweighted_mean_and_the_best_is_bold(metrics, tmp_path):
    params = tiny_params(
        "evaluate.methods=[pixdiff_otsu, sigma]",
        "ablation.variants=[{name: drb, label: + DRB, "
        "checkpoint: x}, {name: stage2, label: + Stage II, checkpoint: y}]",
    )
    tables_stage(params, metrics, tmp_path / "reports")
    csv = pd.read_csv(tmp_path / "reports" / "table1.csv", index_col="method")
    assert csv.loc["SIGMA", "Average F1"] == pytest.approx(75.0)
    assert csv.loc["PixDiff-Otsu", "Average IoU"] == pytest.approx(60.0)
    assert csv.loc["SIGMA", "Average BF"] == pytest.approx(52.5)
    assert csv.loc["SIGMA", "calib FP%"] == pytest.approx(5.0)
    md = (tmp_path / "reports" / "table1.md").read_text()
    otsu, sigma = (line for line in md.splitlines() if line.startswith(("| PixDiff-Otsu", "| SIGMA")))
    assert "**90.00/80.00/60.00**" in otsu and "**70.00/60.00/50.00**" in sigma  # per-column best (by F1)
    assert "**75.00/65.00/52.50**" in sigma and "**5.00**" in sigma  # average and lowest FP%
    assert "| A (F1/IoU/BF %)" in md and "calib FP%" in md
    assert "\\begin{tabular}" in (tmp_path / "reports" / "table1.tex").read_text()


def test_breakdown_per_edit_kind(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    groups = {"kind/removal": _m(0.9, 0.8), "kind/addition": _m(0.4, 0.3)}
    (folder / "evaluate.json").write_text(
        json.dumps(
            {
                "A": {
                    "pixdiff_otsu": {**_m(0.5, 0.4), "groups": {"kind/removal": _m(0.5, 0.4)}},
                    "sigma": {**_m(0.7, 0.6), "groups": groups},
                }
            }
        )
    )
    tables_stage(tiny_params("evaluate.methods=[pixdiff_otsu, sigma]"), folder, tmp_path / "reports")
    csv = pd.read_csv(tmp_path / "reports" / "breakdown" / "A.csv", index_col="method")
    assert csv.loc["SIGMA", "kind/addition F1"] == pytest.approx(40.0)
    assert np.isnan(csv.loc["PixDiff-Otsu", "kind/addition F1"])
    assert "kind/removal (F1 %)" in (tmp_path / "reports" / "breakdown" / "A.md").read_text()


def test_ablation_rows_follow_the_configured_order(metrics, tmp_path):
    params = tiny_params(
        "ablation.variants=[{name: drb, label: + DRB, checkpoint: x}, {name: stage2, label: + Stage II, checkpoint: y}]"
    )
    tables_stage(params, metrics, tmp_path / "reports")
    csv = pd.read_csv(tmp_path / "reports" / "ablation.csv", index_col="method")
    assert list(csv.index) == ["+ DRB", "+ Stage II"]
    assert list(csv["Average F1"]) == pytest.approx([60.0, 70.0])
    assert csv["Average BF"].isna().all()  # an old metrics file: no boundary F1
    assert "70.00/60.00/–" in (tmp_path / "reports" / "ablation.md").read_text()
    assert (tmp_path / "reports" / "robustness.png").stat().st_size > 1000
    jpeg = pd.read_csv(tmp_path / "reports" / "robustness_jpeg.csv", index_col="strength")
    assert list(jpeg.index) == [60, 90] and jpeg.loc[60, "sigma"] == pytest.approx(0.7)


def test_drift_levels_get_their_own_columns_outside_the_average(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    drift = {
        "drift/heavy": _m(0.2, 0.1, 0.3, bf1=0.15),
        "drift/extreme": _m(0.1, 0.05, bf1=0.0),
        "drift/none": _m(0.6, 0.5, 0.01, bf1=0.45),
        "drift/light": _m(0.4, 0.3, bf1=0.35),
        "kind/removal": _m(0.9, 0.8),
    }
    (folder / "evaluate.json").write_text(
        json.dumps(
            {
                "A": {"pixdiff_otsu": _m(0.5, 0.4, bf1=0.3), "sigma": _m(0.7, 0.6, bf1=0.5)},
                "real": {
                    "pixdiff_otsu": _m(0.3, 0.2, 0.1, bf1=0.2),  # no groups: "–" per level
                    "sigma": {**_m(0.4, 0.3, 0.2, bf1=0.3), "groups": drift},
                },
            }
        )
    )
    tables_stage(tiny_params("evaluate.methods=[pixdiff_otsu, sigma]"), folder, tmp_path / "reports")
    csv = pd.read_csv(tmp_path / "reports" / "table1.csv", index_col="method")
    scored = [c.removesuffix(" F1") for c in csv.columns if c.endswith(" F1")]
    assert scored == ["A", "real", "real (none)", "real (light)", "real (heavy)", "real (extreme)", "Average"]
    assert [c for c in csv.columns if c.endswith("FP%")] == ["real FP%", "real (none) FP%", "real (heavy) FP%"]
    assert csv.loc["SIGMA", "real (light) F1"] == pytest.approx(40.0)
    assert csv.loc["SIGMA", "real (heavy) BF"] == pytest.approx(15.0)
    assert csv.loc["SIGMA", "real (heavy) FP%"] == pytest.approx(30.0)
    assert np.isnan(csv.loc["PixDiff-Otsu", "real (none) F1"])
    assert csv.loc["SIGMA", "Average F1"] == pytest.approx(55.0)  # A and real only, not the levels
    assert csv.loc["SIGMA", "Average BF"] == pytest.approx(40.0)
    md = (tmp_path / "reports" / "table1.md").read_text()
    otsu, sigma = (line for line in md.splitlines() if line.startswith(("| PixDiff-Otsu", "| SIGMA")))
    assert "real (none) (F1/IoU/BF %)" in md
    assert "**60.00/50.00/45.00**" in sigma and "**1.00**" in sigma
    assert otsu.count("–") == 4 + 2  # 4 levels' scores, 2 levels' FP%


def test_no_metrics_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="sigma evaluate"):
        tables_stage(tiny_params(), tmp_path, tmp_path / "reports")


def test_only_writes_the_named_tables_and_rejects_unknown_names(metrics, tmp_path):
    """dvc.yaml's table1 stage (make run) must not need, nor write, the ablation and robustness outputs."""
    reports = tmp_path / "reports"
    written = tables_stage(tiny_params("evaluate.methods=[pixdiff_otsu, sigma]"), metrics, reports, only=["table1"])
    assert (reports / "table1.md").exists()
    assert not (reports / "ablation.md").exists() and not (reports / "robustness.png").exists()
    assert all("ablation" not in p and "robustness" not in p for p in written["written"])
    with pytest.raises(ValueError, match="unknown table"):
        tables_stage(tiny_params(), metrics, reports, only=["table2"])


def test_table1_shows_the_intended_and_side_effect_split_where_a_benchmark_measures_one(metrics, tmp_path):
    results = json.loads((metrics / "evaluate.json").read_text())
    split = {"intended_f1": 0.66, "intended_iou": 0.5, "side_f1": 0.4, "side_iou": 0.25, "side_fp_rate": 0.01}
    split["split_known_share"], split["known_mask_f1"] = 0.8, 0.7
    results["A"]["sigma"] |= split
    (metrics / "evaluate.json").write_text(json.dumps(results))
    tables_stage(tiny_params("evaluate.methods=[pixdiff_otsu, sigma]"), metrics, tmp_path / "reports", only=["table1"])
    csv = pd.read_csv(tmp_path / "reports" / "table1.csv", index_col="method")
    assert csv.loc["SIGMA", "A side-effect F1"] == pytest.approx(40.0)
    assert csv.loc["SIGMA", "A side-effect FP%"] == pytest.approx(1.0)
    assert csv.loc["SIGMA", "A split known %"] == pytest.approx(80.0)
    assert csv.loc["SIGMA", "A mask F1 (split known)"] == pytest.approx(70.0)
    assert np.isnan(csv.loc["PixDiff-Otsu", "A intended F1"])  # no split given
    assert "B intended F1" not in csv.columns  # B's pairs carry no side effects
    md = (tmp_path / "reports" / "table1.md").read_text()
    assert "| A intended (F1/IoU %)" in md and "A side-effect (F1/IoU %)" in md
    assert "66.00/50.00" in md and "40.00/25.00" in md
    assert csv.loc["SIGMA", "Average F1"] == pytest.approx(75.0)  # the split stays out of the average
