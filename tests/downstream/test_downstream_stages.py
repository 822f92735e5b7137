"""The downstream stages end to end on a tiny config: labels through the annotation path, detectors
trained from the exported IMDL-BenCo files, scored, tabulated."""

from __future__ import annotations

import json

from sigma.config import BenchmarkSpec
from sigma.data.pairs import read_manifest
from sigma.downstream.evaluate import evaluate_stage
from sigma.downstream.labels import labels_stage
from sigma.downstream.report import report_stage
from sigma.downstream.train import train_stage
from sigma.model.detectors import load_detector
from tests.downstream.conftest import downstream_params


def test_labels_train_evaluate_report(downstream_project, monkeypatch):
    monkeypatch.chdir(downstream_project)
    params = downstream_params()
    pairs = read_manifest("data/synth/downstream")
    assert {p.split for p in pairs} == {"train", "val", "test"}
    assert any(p.edit_type == "none" for p in pairs), "the corpus holds unchanged (authentic) pairs"

    labels = labels_stage(params, "metrics/downstream_labels.json", track=False)
    assert set(labels) == {"truth", "pixdiff_morph", "pixdiff_otsu"}
    for source in labels:
        entries = json.loads((downstream_project / f"data/downstream/labels/{source}/imdlbenco.train.json").read_text())
        assert any(mask == "Negative" for _, mask in entries), f"{source}: the export lists Negatives"
        assert any(mask != "Negative" for _, mask in entries)
    # pixel differencing labels are scored against the truth, per split
    assert 0 <= labels["pixdiff_morph"]["label_quality"]["train"]["f1"] < 1

    cells = train_stage(params, "metrics/downstream_train.json", track=False)
    assert [(c["source"], c["seed"]) for c in cells] == [
        ("truth", 0),
        ("truth", 1),
        ("pixdiff_morph", 0),
        ("pixdiff_otsu", 0),
    ]
    weights = downstream_project / params.downstream.weights("mobilenet_unet", "truth", 1)
    model = load_detector(weights, device="cpu")
    assert model.input_size == 32

    named = BenchmarkSpec(name="named_on_the_command_line", loader="pairs", path="data/synth/downstream", split="val")
    report = evaluate_stage(params, "metrics/downstream.json", [named], track=False)
    assert report["benchmarks"] == ["downstream_test", "named_on_the_command_line"]
    assert len(report["cells"]) == 8
    assert all(0 <= c["f1"] <= 1 for c in report["cells"])
    assert all("clean_fp_rate" in c for c in report["cells"] if c["benchmark"] == "downstream_test")

    written = report_stage(params, "metrics/downstream.json", "metrics/downstream_labels.json", "reports")
    table = (downstream_project / "reports/downstream.md").read_text()
    assert {p.name for p in written} >= {"downstream.md", "downstream.csv", "downstream.tex", "downstream.png"}
    assert "named_on_the_command_line F1" in table
    rows = [line for line in table.splitlines() if line.startswith("| mobilenet_unet")]
    assert len(rows) == 3  # one per (detector, label source)
    truth_row = next(r for r in rows if "| truth |" in r)
    assert "(2)" in truth_row, "the truth cell is the mean of two seeds"
    assert "gain vs pixdiff_morph" in table and "% of truth" in table


def test_the_share_of_truth_is_left_blank_when_the_truth_trained_detector_learnt_nothing():
    import math

    from sigma.downstream.report import share_of_truth

    assert share_of_truth(22.0, 20.0) == 110.0
    assert math.isnan(share_of_truth(19.7, 0.03))  # not 60 000 %
