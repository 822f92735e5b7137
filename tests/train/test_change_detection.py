"""The learned change-detection baseline: built from the same blocks, trained like Stage I on the
same data, evaluated as method ``siamese_cd`` on its own weights (not the evaluated SIGMA model)."""

from __future__ import annotations

import pytest
import torch

from sigma.config import ConfigError
from sigma.eval.methods import build_method, method_entry
from sigma.eval.stages import MethodCache
from sigma.model.build import build_sigma
from sigma.model.checkpoint import load_checkpoint
from sigma.model.difference import AbsoluteDifference
from sigma.train.cd import change_detection_params, train_change_detection
from tests.conftest import tiny_params


def test_the_baseline_is_siamese_abs_diff_with_no_instruction_path():
    params = change_detection_params(tiny_params())
    model = build_sigma(params.model, params.parse, pretrained=False)
    assert isinstance(model.difference.msdb, AbsoluteDifference)
    assert len(model.difference.blocks) == 0 and len(model.refinement.rounds) == 0
    assert params.model.grounder.name == "none" and model.refiner is not None  # full-resolution decoder
    assert params.stage1.epochs == tiny_params().stage1.epochs  # the same budget as Stage I
    assert tiny_params().model.refine.local_stats and not params.model.refine.local_stats  # SIGMA's own input


def test_abs_diff_sees_only_the_difference():
    torch.manual_seed(0)
    block = AbsoluteDifference((8, 16), dim=4)
    f = [torch.rand(2, 8, 5, 5), torch.rand(2, 16, 5, 5)]
    same = block(f, f)  # identical features: every token is the projection's bias
    bias = torch.stack([p.bias for p in block.proj])[None, :, None, :].expand_as(same)
    torch.testing.assert_close(same, bias)
    g = [torch.rand(2, 8, 5, 5), torch.rand(2, 16, 5, 5)]
    torch.testing.assert_close(block(f, g), block(g, f))  # symmetric in the two images


def test_unknown_model_override_is_a_config_error():
    with pytest.raises(ConfigError, match="change_detection"):
        tiny_params("change_detection.model={drb_blockz: 0}")


def test_trained_baseline_is_evaluated_on_its_own_weights(tiny_project, tiny_checkpoint, tmp_path, monkeypatch):
    monkeypatch.chdir(tiny_project)
    out = tmp_path / "cd"
    summary = train_change_detection(tiny_params(f"change_detection.out={out}"), track=False)
    assert summary["steps"] >= 1 and "edit" in summary["held_out"]
    model = load_checkpoint(out / "sigma.safetensors")
    assert model.config.difference == "abs_diff" and model.config.grounder.name == "none"

    pinned = f"siamese_cd@{out / 'sigma.safetensors'}"
    assert method_entry("siamese_cd").default_model == "models/cd/sigma.safetensors"
    cache = MethodCache(tiny_params().evaluate, model=tiny_checkpoint)
    sigma, cd = cache("sigma"), cache(pinned)
    assert cd.model is not sigma.model and cd.model.config.difference == "abs_diff"
    assert cd.use_instruction is False
    with pytest.raises(FileNotFoundError):  # its default weights, never the evaluated SIGMA model's
        build_method("siamese_cd", model=tiny_checkpoint)
