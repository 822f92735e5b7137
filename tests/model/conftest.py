"""Shared fixtures of the SIGMA model tests (tests/model/test_sigma_model.py, test_backbones.py,
test_checkpoint.py)."""

from __future__ import annotations

import pytest

from sigma.config import ModelParams
from sigma.model.build import PRESETS, build_sigma


def without_langsam(config: ModelParams) -> ModelParams:
    """``config`` with a LangSAM grounder replaced by ``none`` (LangSAM needs hub weights; it has its own tests)."""
    if config.grounder.name != "langsam":
        return config
    return config.model_copy(update={"grounder": config.grounder.model_copy(update={"name": "none"})})


@pytest.fixture(scope="session")
def offline_model():
    """The offline preset with its real packaged weights (backbone, text encoder), untrained heads, eval mode.

    Shared: tests that train, perturb or change the mode of a model must build their own.
    """
    return build_sigma(PRESETS["sigma_offline"], load_grounder=False).eval()
