"""Every registered method through the same interface; the PixDiff baselines on hand-made pairs."""

from __future__ import annotations

import numpy as np
import pytest

from sigma.eval.methods import build_method, list_methods, method_entry
from sigma.eval.methods.pixdiff import max_channel_difference


def _pair(delta: int = 30, size: int = 32):
    original = np.full((size, size, 3), 100, np.uint8)
    edited = original.copy()
    edited[8:16, 8:16, 1] += delta  # an 8x8 edit in one channel
    return original, edited


def test_the_papers_baselines_are_registered():
    expected = {f"pixdiff_fixed_{t}" for t in (0, 10, 20, 30, 40)} | {
        "pixdiff_morph",
        "pixdiff_otsu",
        "feature_diff",
        "instruction_only",
        "sigma",
        "siamese_cd",  # stands for the learned change-detection rows (Meta-CD, DDPM-CD)
    }
    assert expected <= set(list_methods())
    assert method_entry("pixdiff_fixed_10").title == "PixDiff-Fixed(10)"


@pytest.mark.parametrize("name", list_methods())
def test_every_method_predicts_a_mask_and_score_per_pair_at_its_resolution(name, tiny_checkpoint, tiny_detector):
    entry = method_entry(name)
    model = tiny_detector if name == "detector" else tiny_checkpoint  # an IML detector runs a detector checkpoint
    if entry.default_model:  # a method with weights of its own: pinned to the tiny ones here
        name = f"{name}@{model}"
    method = build_method(name, model=model if entry.needs_model else None)
    pairs = [(*_pair(size=32), "remove the square"), (*_pair(size=24), "")]
    preds = method.predict(pairs)
    assert len(preds) == 2
    for (original, _, _), pred in zip(pairs, preds, strict=True):
        assert pred.mask.shape == original.shape[:2] and pred.mask.dtype == bool
        assert pred.score.shape == original.shape[:2]
        assert pred.score.min() >= 0 and pred.score.max() <= 1


def test_model_methods_need_a_model():
    with pytest.raises(ValueError, match="--model"):
        build_method("sigma")


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(KeyError, match="pixdiff_otsu"):
        build_method("pixdiff_nonsense")


def test_fixed_threshold_is_strictly_above_tau():
    original, edited = _pair(delta=30)
    assert max_channel_difference(original, edited).max() == 30
    found = build_method("pixdiff_fixed_20").predict([(original, edited, "")])[0]
    assert found.mask.sum() == 64 and found.mask[8:16, 8:16].all()
    assert found.score[8, 8] == pytest.approx(30 / 255)
    assert not build_method("pixdiff_fixed_30").predict([(original, edited, "")])[0].mask.any()


def test_morph_drops_speckle_and_fills_holes():
    original = np.full((40, 40, 3), 100, np.uint8)
    edited = original.copy()
    edited[8:24, 8:24, 1] = 160  # a 16x16 edit...
    edited[15, 15, 1] = 100  # ...with a one-pixel hole
    edited[34, 2, 0] = 200  # an isolated changed pixel
    plain = build_method("pixdiff_fixed_20").predict([(original, edited, "")])[0].mask
    morph = build_method("pixdiff_morph").predict([(original, edited, "")])[0].mask
    assert plain[34, 2] and not plain[15, 15]
    assert not morph[34, 2] and morph[15, 15] and morph[8:24, 8:24].all()


def test_otsu_separates_the_edit_from_low_level_noise():
    rng = np.random.default_rng(0)
    original, edited = _pair(delta=80)
    noisy = np.clip(edited.astype(int) + rng.integers(-6, 7, edited.shape), 0, 255).astype(np.uint8)
    mask = build_method("pixdiff_otsu").predict([(original, noisy, "")])[0].mask
    truth = np.zeros(mask.shape, bool)
    truth[8:16, 8:16] = True
    assert (mask == truth).all()
    assert build_method("pixdiff_fixed_0").predict([(original, noisy, "")])[0].mask.mean() > 0.5


def test_feature_diff_ignores_the_instruction_and_instruction_only_uses_only_the_prior(tiny_checkpoint):
    original, edited = _pair()
    feature = build_method("feature_diff", model=tiny_checkpoint)
    a, b = feature.predict([(original, edited, "remove the square"), (original, edited, "add a cat")])
    np.testing.assert_array_equal(a.score, b.score)
    prior = build_method("instruction_only", model=tiny_checkpoint).predict([(original, edited, "remove it")])[0]
    # The tiny model grounds nothing (grounder "none"): the prior is the uniform eps, below any threshold.
    assert not prior.mask.any() and np.allclose(prior.score, prior.score.flat[0])
