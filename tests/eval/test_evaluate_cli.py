"""`sigma evaluate` / `sigma tables` from the command line on the tiny project."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sigma.cli import app
from tests.conftest import ROOT, TINY

runner = CliRunner()
SETS = [arg for item in TINY for arg in ("--set", item)] + ["--params", str(ROOT / "params.yaml")]


def test_evaluate_any_pair_folder_with_chosen_methods(tiny_project, tmp_path, monkeypatch):
    monkeypatch.chdir(tiny_project)
    out = tmp_path / "evaluate.json"
    result = runner.invoke(
        app,
        [
            "evaluate",
            "pairs:data/synth/edit",
            "--method",
            "pixdiff_otsu",
            "--method",
            "pixdiff_fixed_40",
            "--out",
            str(out),
            "--no-track",
            *SETS,
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(out.read_text())
    assert list(metrics) == ["pairs"] and set(metrics["pairs"]) == {"pixdiff_otsu", "pixdiff_fixed_40"}
    tables = runner.invoke(app, ["tables", "--metrics-dir", str(tmp_path), "--reports", str(tmp_path / "r"), *SETS])
    assert tables.exit_code == 0, tables.output
    assert "PixDiff-Otsu" in (tmp_path / "r" / "table1.md").read_text()


def test_unknown_method_and_missing_benchmark_are_clear_errors(tiny_project, tmp_path, monkeypatch):
    monkeypatch.chdir(tiny_project)
    result = runner.invoke(app, ["evaluate", "data/synth/edit", "--method", "pixdif", "--no-track", *SETS])
    assert result.exit_code == 2 and "pixdiff_otsu" in result.output
    result = runner.invoke(
        app,
        [
            "evaluate",
            "magicbrush:/nowhere",
            "--method",
            "pixdiff_otsu",
            "--no-track",
            "--out",
            str(tmp_path / "m.json"),
            *SETS,
        ],
    )
    assert result.exit_code == 1 and "/nowhere" in result.output
    result = runner.invoke(
        app,
        [
            "evaluate",
            "data/synth/edit",
            "--method",
            "sigma",
            "--model",
            "nowhere.safetensors",
            "--no-track",
            "--out",
            str(tmp_path / "m.json"),
            *SETS,
        ],
    )
    assert result.exit_code == 1 and "nowhere.safetensors" in result.output
