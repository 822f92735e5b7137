"""Pixel statistics on the token grid: they see what the backbone ignores, only where it changed."""

import json

import numpy as np
import torch
import torch.nn.functional as F

from sigma.config import ModelParams
from sigma.model.build import build_sigma
from sigma.model.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from sigma.model.pixel_stats import PixelStatisticsDifference, local_statistics_change, token_statistics
from tests.model.test_geometry_refine import TINY


def textured(seed: int = 0) -> torch.Tensor:
    return torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(seed)) * 0.5 + 0.25


def test_brightening_one_region_moves_only_its_cells_luma():
    image = textured()
    edited = image.clone()
    edited[..., :32, :32] += 0.2  # top-left quadrant of a 4x4 grid
    delta = token_statistics(edited, (4, 4)) - token_statistics(image, (4, 4))
    luma_mean = delta[0, 0]
    assert torch.allclose(luma_mean[:2, :2], torch.full((2, 2), 0.2), atol=1e-4)
    assert luma_mean[2:].abs().max() < 1e-6 and luma_mean[:, 2:].abs().max() < 1e-6


def test_blurring_lowers_the_local_contrast_channel():
    image = textured()
    blurred = F.avg_pool2d(image, 5, stride=1, padding=2, count_include_pad=False)
    before, after = token_statistics(image, (4, 4)), token_statistics(blurred, (4, 4))
    assert (after[0, 3] < 0.7 * before[0, 3]).all()  # luma standard deviation


def test_local_statistics_see_a_fade_and_a_blur_only_at_their_pixels():
    image = textured()
    faded, blurred = image.clone(), image.clone()
    grey = image[..., 16:48, 16:48].mean(1, keepdim=True)
    faded[..., 16:48, 16:48] = grey.expand(-1, 3, -1, -1)  # chroma gone
    blurred[..., 16:48, 16:48] = F.avg_pool2d(image, 5, stride=1, padding=2, count_include_pad=False)[..., 16:48, 16:48]
    fade, blur = local_statistics_change(image, faded), local_statistics_change(image, blurred)
    assert fade.shape == blur.shape == (1, 4, 64, 64)
    assert (fade[0, 0, 22:42, 22:42] < 0).all()  # chroma falls wherever the fade reaches
    assert (blur[0, 1, 22:42, 22:42] < 0).float().mean() > 0.9  # local contrast falls under a blur
    assert fade[0, :, :10, :10].abs().max() == 0 and blur[0, :, :10, :10].abs().max() == 0
    assert local_statistics_change(image, image).abs().max() == 0
    torch.testing.assert_close(fade[0, 2:], fade[0, :2].abs())


def test_an_untrained_block_adds_nothing_and_identical_images_give_no_change():
    block = PixelStatisticsDifference(dim=8)
    image = textured()
    assert block(image, image + 0.1, (4, 4)).abs().max() == 0
    torch.nn.init.normal_(block.proj.weight)
    same = block(image, image, (4, 4))
    shifted = block(image, image + 0.1, (4, 4))
    assert same.shape == (1, 16, 8) and not torch.allclose(same, shifted)


def test_checkpoints_from_before_the_pixel_statistics_load_without_them(tmp_path):
    model = build_sigma(ModelParams.model_validate({**TINY, "pixel_stats": False}), load_grounder=False)
    path = save_checkpoint(model, tmp_path / "old.safetensors")
    from safetensors.torch import load_file, save_file

    meta = read_metadata(path)
    config = ModelParams.model_validate_json(meta["model"]).model_dump(mode="json", exclude={"pixel_stats"})
    save_file(load_file(str(path)), str(path), metadata={**meta, "model": json.dumps(config)})
    loaded = load_checkpoint(path)
    assert loaded.pixel_stats is None and not loaded.config.pixel_stats
    image = np.random.default_rng(1).integers(0, 255, (40, 70, 3), dtype=np.uint8)
    assert loaded.annotate([(image, image, "")])[0].mask.shape == (40, 70)
    current = build_sigma(ModelParams.model_validate(TINY), load_grounder=False)
    assert current.pixel_stats is not None


def test_a_refiner_with_local_statistics_round_trips_through_its_checkpoint(tmp_path):
    model = build_sigma(
        ModelParams.model_validate({**TINY, "refine": {**TINY["refine"], "local_stats": True}}), load_grounder=False
    ).eval()
    torch.nn.init.normal_(model.refiner.head.weight)  # trained-like: the statistics reach the logits
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "local.safetensors"))
    assert loaded.config.refine.local_stats and loaded.refiner.local_stats
    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (40, 70, 3), dtype=np.uint8)
    faded = image.copy()
    faded[10:30, 20:50] = image[10:30, 20:50].mean(-1, keepdims=True).astype(np.uint8)
    triples = [(image, faded, "fade the box")]
    np.testing.assert_array_equal(model.annotate(triples)[0].mask, loaded.annotate(triples)[0].mask)
    assert not ModelParams.model_validate(TINY).refine.local_stats  # an older checkpoint's config: off
