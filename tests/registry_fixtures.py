"""A throw-away SQLite MLflow registry and annotators with a known output, for registry tests."""

from __future__ import annotations

import mlflow
import pytest
import torch
from mlflow import MlflowClient

from sigma.config import PostprocessParams
from sigma.model.build import build_sigma
from sigma.model.pyfunc import log_annotator
from sigma.model.sigma import SigmaAnnotator


@pytest.fixture
def registry(tiny_project, tmp_path, monkeypatch) -> MlflowClient:
    monkeypatch.chdir(tiny_project)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("registry")  # other tests leave an experiment id of another store active
    return MlflowClient()


def constant_annotator(params, edit_logit: float) -> SigmaAnnotator:
    """A model that marks every pixel (logit > 0) or none (logit < 0)."""
    # Without the logit rules: an exact pair's pixel difference would replace the constant mask.
    rules_off = {"postprocess": PostprocessParams(exact_min_identical=None, min_region=0, grow_band=0)}
    model = build_sigma(params.model.model_copy(update=rules_off), params.parse)
    with torch.no_grad():
        model.decoder.head.weight[0].zero_()
        model.decoder.head.bias[0] = edit_logit
    return model


def register_constant_annotator(params, edit_logit: float) -> str:
    """Register :func:`constant_annotator`; returns its version."""
    with mlflow.start_run():
        log_annotator(constant_annotator(params, edit_logit), registered_model_name="sigma-annotator")
    return str(max(int(v.version) for v in MlflowClient().search_model_versions("name='sigma-annotator'")))
