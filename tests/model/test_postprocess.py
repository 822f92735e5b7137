"""Rules on the edit logits: pixel-exact pairs, small regions and growth along the pixel difference
(sigma/model/postprocess.py)."""

import numpy as np
import pytest
import torch

from sigma.config import ModelParams, PostprocessParams
from sigma.model.checkpoint import legacy_model_config
from sigma.model.postprocess import (
    EXACT_LOGIT,
    GROWN_LOGIT,
    changed_beyond_noise,
    drop_small_regions,
    exact_difference,
    grow_along_difference,
    histogram_quantile,
    patch_difference,
    postprocess,
)
from tests.model.conftest import tiny_sigma

OFF = PostprocessParams(exact_min_identical=None, min_region=0, grow_band=0)


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


def test_a_lightly_re_rendered_pair_with_half_its_pixels_identical_keeps_the_networks_logits():
    """A light re-rendering (faint noise on 30% of the pixels) leaves 70% of them bit-identical, but
    scattered: no whole patch stays untouched, so the pair is not pixel-exact. The same edit without
    the re-rendering, whose identical pixels lie in whole patches, is."""
    original, edited, truth = _pair(size=(64, 96), box=(16, 48, 24, 72))
    touched = torch.rand(original.shape[-2:], generator=torch.Generator().manual_seed(0)) < 0.3
    light = edited.clone()
    light[:, touched] = edited[:, touched] ^ 1  # the lowest bit flipped: a change of one level
    assert (light == original).all(0).float().mean() > 0.5
    edit = torch.randn(truth.shape)
    assert exact_difference(edit, original, light, min_identical=0.5) is edit
    assert torch.equal(exact_difference(edit, original, edited, min_identical=0.5) > 0, truth)


@pytest.mark.parametrize("bar", [0, 255])
def test_identical_letterbox_bars_do_not_make_a_re_rendered_pair_exact(bar):
    """Black (or white) bars over 60% of the image survive re-rendering bit for bit; the photo between
    them decides: re-rendered, the network's logits stay; edited in place, the pixel difference is the mask."""
    original, edited, truth = _pair(size=(40, 100))
    for image in (original, edited):
        image[:, :, :30] = bar
        image[:, :, 70:] = bar
    truth[:, :30] = truth[:, 70:] = False
    noisy = edited.clone()
    noisy[:, :, 30:70] = (edited[:, :, 30:70].int() + torch.randint(-2, 3, (3, 40, 40))).clamp(0, 255).to(torch.uint8)
    edit = torch.randn(truth.shape)
    assert exact_difference(edit, original, noisy, min_identical=0.5) is edit
    assert torch.equal(exact_difference(edit, original, edited, min_identical=0.5) > 0, truth)


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


def _re_rendered_box(size=(60, 80), box=(20, 40, 25, 55), drift=3):
    """A flat grey pair re-rendered with +-``drift`` noise everywhere and a box brightened by 60."""
    rng = np.random.default_rng(1)
    original = torch.full((3, *size), 100, dtype=torch.uint8)
    edited = original.int() + torch.from_numpy(rng.integers(-drift, drift + 1, (3, *size)))
    y0, y1, x0, x1 = box
    edited[:, y0:y1, x0:x1] += 60
    truth = torch.zeros(size, dtype=torch.bool)
    truth[y0:y1, x0:x1] = True
    return original, edited.clamp(0, 255).to(torch.uint8), truth


def test_an_eroded_region_grows_to_the_changed_pixels_and_no_further():
    original, edited, truth = _re_rendered_box()
    edit = torch.full(truth.shape, -1.0)  # unsure everywhere near the edit ...
    edit[:5], edit[-5:], edit[:, :5], edit[:, -5:] = -6.0, -6.0, -6.0, -6.0  # ... sure at the frame
    edit[24:36, 29:51] = 3.0  # the network's region: 4 px inside the box on every side
    out = grow_along_difference(edit, original, edited, band=0.1)
    grown = (out > 0) & ~(edit > 0)
    assert (out[truth] > 0).all()  # the box's 3x3-mean difference (60) is far above the noise (3)
    # Outside the box and the 3x3 blur's one-pixel rim only drift differs: it passes about as often
    # as the quantile lets noise through (5 %), in the band around the region only.
    rim = torch.from_numpy(np.pad(np.ones((22, 32), bool), ((19, 19), (24, 24))))
    band = torch.from_numpy(np.pad(np.ones((28, 38), bool), ((16, 16), (21, 21)))) & ~rim
    assert (grown & ~rim & ~band).sum() == 0
    assert (grown & band).sum() < 0.1 * band.sum()
    assert (out[grown] == GROWN_LOGIT).all() and torch.equal(out[edit > 0], edit[edit > 0])


def test_growth_stays_within_its_band_and_off_where_the_model_is_sure():
    original, edited, truth = _re_rendered_box()
    edit = torch.full(truth.shape, -6.0)
    edit[24:36, 29:51] = 3.0
    edit[20:24, 25:55] = -1.0  # only the box's top rows are not ruled out
    out = grow_along_difference(edit, original, edited, band=0.02)  # radius: 2 px
    grown = (out > 0) & ~(edit > 0)
    assert grown.any() and (grown.nonzero()[:, 0] >= 22).all() and (grown.nonzero()[:, 0] < 24).all()


def test_no_region_or_no_sure_background_grows_nothing():
    original, edited, truth = _re_rendered_box()
    nothing = torch.full(truth.shape, -1.0)
    assert grow_along_difference(nothing, original, edited, band=0.1) is nothing
    everywhere_unsure = torch.full(truth.shape, -1.0)
    everywhere_unsure[30, 40] = 2.0
    assert grow_along_difference(everywhere_unsure, original, edited, band=0.1) is everywhere_unsure


@pytest.mark.parametrize("n", [1, 2, 9, 1000])
@pytest.mark.parametrize("q", [0.0, 0.3, 0.95, 1.0])
def test_the_histogram_quantile_is_numpys_linear_quantile(n, q):
    values = np.random.default_rng(n).integers(0, 2296, n)  # the 3x3 sums of a uint8 difference
    assert histogram_quantile(np.bincount(values), q) == pytest.approx(np.quantile(values, q), abs=1e-9)


def test_rules_switched_off_change_nothing():
    original, edited, truth = _pair()
    edit = torch.randn(truth.shape)
    assert postprocess(edit, original, edited, OFF) is edit


def test_checkpoints_from_before_the_rules_load_without_them():
    legacy = legacy_model_config({"refine": {"enabled": True}})
    assert PostprocessParams.model_validate(legacy["postprocess"]) == OFF
    before_growth = legacy_model_config({"refine": {}, "postprocess": {"exact_min_identical": 0.5, "min_region": 0.01}})
    assert PostprocessParams.model_validate(before_growth["postprocess"]) == PostprocessParams(
        exact_min_identical=0.5, min_region=0.01, grow_band=0
    )
    assert "postprocess" in ModelParams().model_dump()


@pytest.mark.parametrize("size", [(83, 47), (48, 64)])
def test_the_annotator_returns_an_exact_pairs_difference_at_native_size(size):
    model = tiny_sigma()
    original, edited, truth = _pair(size, box=(2, 9, 3, 12))
    as_array = lambda t: t.permute(1, 2, 0).numpy()  # noqa: E731
    (annotation,) = model.annotate([(as_array(original), as_array(edited), "remove the cat")])
    assert np.array_equal(annotation.mask, truth.numpy())


def test_a_small_region_stays_when_the_model_is_sure_and_the_pixels_changed_beyond_the_noise():
    original, edited, _ = _re_rendered_box(size=(100, 100), box=(10, 40, 10, 40))
    edited[:, 70:74, 70:74] = (edited[:, 70:74, 70:74].int() + 60).clamp(0, 255).to(torch.uint8)  # a small edit
    edit = torch.full((100, 100), -6.0)
    edit[10:40, 10:40] = 4.0
    evidence = lambda: changed_beyond_noise(edit.numpy(), patch_difference(original, edited), 0.95)  # noqa: E731
    sure, unsure, unbacked = edit.clone(), edit.clone(), edit.clone()
    sure[70:74, 70:74] = 3.0  # p 0.95, on changed pixels
    unsure[70:74, 70:74] = 0.5  # p 0.62
    unbacked[80:84, 10:14] = 3.0  # sure, but nothing changed there beyond the re-rendering
    keep = float(np.log(0.9 / 0.1))
    assert (drop_small_regions(sure, 0.005, evidence, keep)[70:74, 70:74] > 0).all()
    assert (drop_small_regions(unsure, 0.005, evidence, keep)[70:74, 70:74] < 0).all()
    assert (drop_small_regions(unbacked, 0.005, evidence, keep)[80:84, 10:14] < 0).all()
    assert (drop_small_regions(sure, 0.005)[70:74, 70:74] < 0).all()  # area alone: dropped
