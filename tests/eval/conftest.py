"""Evaluation fixtures: a tiny (untrained) SIGMA checkpoint; the tiny project comes from tests/conftest.py."""

from __future__ import annotations

import pytest
import torch

from sigma.model.build import build_sigma
from sigma.model.checkpoint import save_checkpoint
from tests.conftest import tiny_params


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> str:
    torch.manual_seed(0)
    params = tiny_params()
    model = build_sigma(params.model, params.parse)
    return str(save_checkpoint(model, tmp_path_factory.mktemp("model") / "sigma.safetensors"))
