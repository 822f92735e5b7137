"""Registry promotion against a local SQLite registry: better moves the alias, worse and broken do not."""

from __future__ import annotations

import mlflow
import pytest
import torch
from mlflow import MlflowClient

from sigma.eval.promote import promote
from sigma.model.build import build_sigma
from sigma.model.pyfunc import log_annotator
from tests.conftest import tiny_params

PARAMS = ["evaluate.benchmarks=[{name: tiny_edit, path: data/synth/edit}]", "evaluate.robustness.benchmark=tiny_edit",
          "promote.margin=0.01"]


def _register(params, edit_logit: float) -> str:
    """A model that marks every pixel (logit > 0) or none (logit < 0): F1 > 0 or exactly 0."""
    model = build_sigma(params.model, params.parse)
    with torch.no_grad():
        model.decoder.head.weight[0].zero_()
        model.decoder.head.bias[0] = edit_logit
    with mlflow.start_run():
        log_annotator(model, registered_model_name="sigma-annotator")
    return str(max(int(v.version) for v in MlflowClient().search_model_versions("name='sigma-annotator'")))


class NotAnAnnotator(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return model_input


@pytest.fixture
def registry(tiny_project, tmp_path, monkeypatch):
    monkeypatch.chdir(tiny_project)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("promotion")  # other tests leave an experiment id of another store active
    return MlflowClient()


def test_promotion_moves_the_alias_only_for_a_real_gain(registry):
    params = tiny_params(*PARAMS)
    blind = _register(params, -20.0)
    first = promote(params)
    assert first["promoted"] and first["candidate_f1"] == 0.0 and "no @champion" in first["reason"]

    marks_all = _register(params, 20.0)
    better = promote(params)
    assert better["promoted"] and better["champion_f1"] == 0.0 and better["candidate_f1"] > 0.01
    assert str(registry.get_model_version_by_alias("sigma-annotator", "champion").version) == marks_all

    worse = _register(params, -20.0)  # a deliberately worse candidate
    decision = promote(params)
    assert not decision["promoted"] and decision["candidate_version"] == worse
    assert str(registry.get_model_version_by_alias("sigma-annotator", "champion").version) == marks_all
    tags = registry.get_model_version("sigma-annotator", worse).tags
    assert tags["promotion.promoted"] == "False"
    assert float(tags["promotion.candidate_f1"]) == 0.0
    assert float(tags["promotion.champion_f1"]) == pytest.approx(better["candidate_f1"])
    assert blind != worse


def test_a_version_that_fails_evaluation_is_never_promoted(registry):
    params = tiny_params(*PARAMS)
    with mlflow.start_run():
        mlflow.pyfunc.log_model(name="annotator", python_model=NotAnAnnotator(),
                                registered_model_name="sigma-annotator")
    decision = promote(params)
    assert not decision["promoted"] and "failed evaluation" in decision["reason"]
    with pytest.raises(mlflow.exceptions.MlflowException):
        registry.get_model_version_by_alias("sigma-annotator", "champion")
    version = decision["candidate_version"]
    assert registry.get_model_version("sigma-annotator", version).tags["promotion.promoted"] == "False"


def test_an_empty_registry_is_a_clear_error(registry):
    with pytest.raises(ValueError, match="sigma train stage2"):
        promote(tiny_params(*PARAMS))


def test_the_champion_itself_is_not_re_promoted(registry):
    params = tiny_params(*PARAMS)
    _register(params, 20.0)
    assert promote(params)["promoted"]
    again = promote(params)
    assert not again["promoted"] and "already holds" in again["reason"]
