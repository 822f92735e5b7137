"""Shared fixtures of the SIGMA model tests (tests/model/test_sigma_model.py, test_backbones.py,
test_checkpoint.py, test_geometry_refine.py, test_postprocess.py, test_tiles.py)."""

from __future__ import annotations

import pytest
import torch

from sigma.config import ModelParams
from sigma.model.build import PRESETS, build_sigma
from sigma.model.sigma import SigmaAnnotator


def without_langsam(config: ModelParams) -> ModelParams:
    """``config`` with a LangSAM grounder replaced by ``none`` (LangSAM needs hub weights; it has its own tests)."""
    if config.grounder.name != "langsam":
        return config
    return config.model_copy(update={"grounder": config.grounder.model_copy(update={"name": "none"})})


TINY = {  # a SIGMA small enough to run a 1600-px pair in a test: 64-px input, no grounder, untrained
    "backbone": {"input_size": 64},
    "dim": 16,
    "heads": 2,
    "decoder_dim": 8,
    "grounder": {"name": "none"},
    "refine": {"dim": 8, "max_side": 32},
}


def tiny_sigma(**overrides) -> SigmaAnnotator:
    """The :data:`TINY` model (``overrides`` replace its top-level config keys), seeded, eval mode."""
    torch.manual_seed(0)
    return build_sigma(ModelParams.model_validate({**TINY, **overrides}), load_grounder=False).eval()


@pytest.fixture(scope="session")
def offline_model():
    """The offline preset with its real packaged weights (backbone, text encoder), untrained heads, eval mode.

    Shared: tests that train, perturb or change the mode of a model must build their own.
    """
    return build_sigma(PRESETS["sigma_offline"], load_grounder=False).eval()
