"""Every command has --help; commands print what they promise and fail with readable errors."""

import json

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from sigma import __version__
from sigma.cli import app
from tests.conftest import ROOT

runner = CliRunner()


def all_command_paths(group=None, prefix=()):
    group = group or get_command(app)
    for name, cmd in group.commands.items():
        yield prefix + (name,)
        if hasattr(cmd, "commands"):
            yield from all_command_paths(cmd, prefix + (name,))


@pytest.mark.parametrize("path", [()] + list(all_command_paths()), ids=lambda p: " ".join(p) or "sigma")
def test_every_command_has_help(path):
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_version():
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0 and result.output.strip() == __version__


def test_parse_prints_one_json_object():
    result = runner.invoke(app, ["parse", "remove the cat", "--params", str(ROOT / "params.yaml")])
    assert result.exit_code == 0
    parsed = json.loads(result.stdout)
    assert (parsed["original"], parsed["edited"], parsed["action"]) == ("a cat", None, "remove")
    assert parsed["edits"] == [{"original": "a cat", "edited": None, "action": "remove"}]
    assert parsed["prior"] == "instruction" and parsed["patterns"] == ["remove"]


def test_parse_prints_every_edit_of_a_multi_edit_instruction():
    instruction = "remove the cup and make the table red"
    result = runner.invoke(app, ["parse", instruction, "--params", str(ROOT / "params.yaml")])
    parsed = json.loads(result.stdout)
    assert [e["action"] for e in parsed["edits"]] == ["remove", "attribute_change"]
    assert parsed["action"] == "remove" and parsed["original"] == "a cup"


def test_parse_says_when_the_prior_would_be_uniform_and_why():
    params = ["--params", str(ROOT / "params.yaml")]
    vague = json.loads(runner.invoke(app, ["parse", "remove it", *params]).stdout)
    assert vague["action"] == "remove" and vague["prior"].startswith("uniform: parse confidence")
    strict_params = [*params, "--set", "parse.min_confidence=0.99"]
    strict = json.loads(runner.invoke(app, ["parse", "remvoe the cat", *strict_params]).stdout)
    assert strict["original"] == "a cat" and "< parse.min_confidence 0.99" in strict["prior"]
    nothing = json.loads(runner.invoke(app, ["parse", "hello there", *params]).stdout)
    assert nothing["edits"] == [] and nothing["prior"] == "uniform: no edit found in the instruction"


def test_parse_with_unconfigured_llm_says_what_to_set():
    result = runner.invoke(app, ["parse", "remove the cat", "--parser", "llm", "--params", str(ROOT / "params.yaml")])
    assert result.exit_code == 2 and "parse.llm_model" in result.output


def test_unknown_param_key_is_reported(tmp_path):
    result = runner.invoke(
        app, ["data", "synth", "edit", "--params", str(ROOT / "params.yaml"), "--set", "data.edit.n_pair=3"]
    )
    assert result.exit_code == 2 and "unknown key 'data.edit.n_pair'" in result.output


def test_synth_then_validate(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    out = tmp_path / "calib"
    result = runner.invoke(
        app,
        [
            "data",
            "synth",
            "calib",
            "--out",
            str(out),
            "--params",
            str(ROOT / "params.yaml"),
            "--set",
            "data.sources=[{kind: builtin}]",
            "--set",
            "data.calib.n_pairs=3",
            "--set",
            "data.calib.perturb.vae=null",
        ],
    )
    assert result.exit_code == 0, result.output
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    runs = mlflow.search_runs(experiment_names=["sigma"])
    assert runs["metrics.n_pairs"].tolist() == [3.0] and runs["params.calib.n_pairs"].tolist() == ["3"]
    report = tmp_path / "report.json"
    result = runner.invoke(app, ["data", "validate", str(out), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["n_pairs"] == 3
    (out / "images" / "calib-000001_e.png").unlink()
    result = runner.invoke(app, ["data", "validate", str(out), "--report", str(report)])
    assert result.exit_code == 1 and "calib-000001@line2" in result.output
    assert json.loads(report.read_text())["success"] is False


def test_validate_unreadable_manifest(tmp_path):
    result = runner.invoke(app, ["data", "validate", str(tmp_path / "nothing")])
    assert result.exit_code == 1 and "cannot read manifest" in result.output


def test_error_messages_keep_their_brackets():
    result = runner.invoke(
        app,
        ["data", "synth", "edit", "--params", str(ROOT / "params.yaml"), "--set", "data.edit.edit_mix={explode: 1}"],
    )
    assert result.exit_code == 2 and "['explode']" in result.output
