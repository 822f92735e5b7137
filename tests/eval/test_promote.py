"""Registry promotion against a local SQLite registry: better moves the alias, worse and broken do not."""

from __future__ import annotations

import mlflow
import pytest

from sigma.eval.promote import promote, promotion_metrics
from sigma.model.checkpoint import load_checkpoint, save_checkpoint
from sigma.model.pyfunc import log_annotator
from tests.conftest import tiny_params
from tests.registry_fixtures import constant_annotator, register_constant_annotator, registry  # noqa: F401

PARAMS = [
    "evaluate.benchmarks=[{name: tiny_edit, path: data/synth/edit}]",
    "evaluate.robustness.benchmark=tiny_edit",
    "promote.margin=0.01",
]


class NotAnAnnotator(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return model_input


def test_promotion_moves_the_alias_only_for_a_real_gain(registry):  # noqa: F811
    params = tiny_params(*PARAMS)
    blind = register_constant_annotator(params, -20.0)
    first = promote(params)
    assert first["promoted"] and first["candidate_f1"] == 0.0 and "no @champion" in first["reason"]

    marks_all = register_constant_annotator(params, 20.0)
    better = promote(params)
    assert better["promoted"] and better["champion_f1"] == 0.0 and better["candidate_f1"] > 0.01
    assert str(registry.get_model_version_by_alias("sigma-annotator", "champion").version) == marks_all

    worse = register_constant_annotator(params, -20.0)  # a deliberately worse candidate
    decision = promote(params)
    assert not decision["promoted"] and decision["candidate_version"] == worse
    assert str(registry.get_model_version_by_alias("sigma-annotator", "champion").version) == marks_all
    tags = registry.get_model_version("sigma-annotator", worse).tags
    assert tags["promotion.promoted"] == "False"
    assert float(tags["promotion.candidate_f1"]) == 0.0
    assert float(tags["promotion.champion_f1"]) == pytest.approx(better["candidate_f1"])
    assert blind != worse


def test_the_candidate_is_the_version_holding_the_checkpoints_weights(registry, tmp_path):  # noqa: F811
    params = tiny_params(*PARAMS)
    checkpoint = save_checkpoint(constant_annotator(params, 20.0), tmp_path / "sigma.safetensors")
    with mlflow.start_run():
        log_annotator(load_checkpoint(checkpoint), registered_model_name="sigma-annotator")
    holds_it = str(registry.search_model_versions("name='sigma-annotator'")[0].version)
    newest = register_constant_annotator(params, -20.0)
    decision = promote(params, checkpoint=str(checkpoint))
    assert decision["candidate_version"] == holds_it != newest and decision["promoted"]
    assert "candidate_version" not in promotion_metrics(decision)  # the version number stays in MLflow

    with pytest.raises(ValueError, match="no version of 'sigma-annotator'.*holds the weights"):
        promote(params, checkpoint=str(save_checkpoint(constant_annotator(params, 5.0), tmp_path / "new.safetensors")))


def test_a_version_that_fails_evaluation_is_never_promoted(registry):  # noqa: F811
    params = tiny_params(*PARAMS)
    with mlflow.start_run():
        mlflow.pyfunc.log_model(
            name="annotator", python_model=NotAnAnnotator(), registered_model_name="sigma-annotator"
        )
    decision = promote(params)
    assert not decision["promoted"] and "failed evaluation" in decision["reason"]
    with pytest.raises(mlflow.exceptions.MlflowException):
        registry.get_model_version_by_alias("sigma-annotator", "champion")
    version = decision["candidate_version"]
    assert registry.get_model_version("sigma-annotator", version).tags["promotion.promoted"] == "False"


def test_an_empty_registry_is_a_clear_error(registry):  # noqa: F811
    with pytest.raises(ValueError, match="sigma train stage2"):
        promote(tiny_params(*PARAMS))


def test_the_champion_itself_is_not_re_promoted(registry):  # noqa: F811
    params = tiny_params(*PARAMS)
    register_constant_annotator(params, 20.0)
    assert promote(params)["promoted"]
    again = promote(params)
    assert not again["promoted"] and "already holds" in again["reason"]
