"""Rules on the edit logits: pixel-exact pairs and small regions (sigma/model/postprocess.py)."""

import numpy as np
import pytest
import torch

from sigma.config import ModelParams, PostprocessParams
from sigma.model.build import build_sigma
from sigma.model.checkpoint import legacy_model_config
from sigma.model.postprocess import EXACT_LOGIT, drop_small_regions, exact_difference, postprocess

OFF = PostprocessParams(exact_min_identical=None, min_region=0)


def _pair(size=(41, 67), box=(5, 20, 9, 30)):
    rng = np.random.default_rng(0)
    original = torch.from_numpy(rng.integers(0, 256, (3, *size), dtype=np.uint8))
    edited = original.clone()
    y0, y1, x0, x1 = box
    edited[:, y0:y1, x0:x1] = 255 - edited[:, y0:y1, x0:x1]
    truth = torch.zeros(size, dtype=torch.bool)
    truth[y0:y1, x0:x1] = (edited[:, y0:y1, x0:x1] != original[:, y0:y1, x0:x1]).any(0)
    return original, edited, truth


def test_a_pixel_exact_pair_gets_its_pixel_difference_as_the_mask():
    original, edited, truth = _pair()
    out = exact_difference(torch.randn(truth.shape), original, edited, min_identical=0.5)
    assert torch.equal(out > 0, truth)
    assert out.abs().min() == EXACT_LOGIT


def test_a_re_rendered_pair_keeps_the_networks_logits():
    original, edited, _ = _pair()
    noisy = (edited.int() + torch.randint(-2, 3, edited.shape)).clamp(0, 255).to(torch.uint8)
    edit = torch.randn(original.shape[-2:])
    assert exact_difference(edit, original, noisy, min_identical=0.5) is edit


def test_specks_go_but_the_largest_region_and_a_lone_small_edit_stay():
    edit = torch.full((100, 100), -3.0)
    edit[10:40, 10:40] = 2.0  # 9 % of the image
    edit[70:72, 70:72] = 1.0  # a 0.04 % speck
    out = drop_small_regions(edit, min_share=0.005)
    assert (out[10:40, 10:40] > 0).all() and (out[70:72, 70:72] < 0).all()
    assert (out < 0).sum() == 100 * 100 - 900
    lone = torch.full((100, 100), -3.0)
    lone[70:72, 70:72] = 1.0
    assert torch.equal(drop_small_regions(lone, min_share=0.005), lone)


def test_rules_switched_off_change_nothing():
    original, edited, truth = _pair()
    edit = torch.randn(truth.shape)
    assert postprocess(edit, original, edited, OFF) is edit


def test_checkpoints_from_before_the_rules_load_without_them():
    legacy = legacy_model_config({"refine": {"enabled": True}})
    assert PostprocessParams.model_validate(legacy["postprocess"]) == OFF
    assert "postprocess" in ModelParams().model_dump()


@pytest.mark.parametrize("size", [(33, 17), (48, 64)])
def test_the_annotator_returns_an_exact_pairs_difference_at_native_size(size):
    torch.manual_seed(0)
    model = build_sigma(
        ModelParams.model_validate(
            {
                "backbone": {"input_size": 64},
                "dim": 16,
                "heads": 2,
                "decoder_dim": 8,
                "grounder": {"name": "none"},
                "refine": {"dim": 8, "max_side": 32},
            }
        ),
        load_grounder=False,
    ).eval()
    original, edited, truth = _pair(size, box=(2, 9, 3, 12))
    as_array = lambda t: t.permute(1, 2, 0).numpy()  # noqa: E731
    (annotation,) = model.annotate([(as_array(original), as_array(edited), "remove the cat")])
    assert np.array_equal(annotation.mask, truth.numpy())
