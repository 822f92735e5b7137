"""Native-resolution prediction: letterbox geometry, the full-resolution refiner, legacy checkpoints."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sigma.config import ModelParams
from sigma.data.dataset import image_view, resize_image
from sigma.model.blocks import l2_normalize
from sigma.model.build import build_sigma
from sigma.model.checkpoint import load_checkpoint, save_checkpoint
from sigma.model.geometry import canvas_size, capped_size, crop_resize, fitted_size, letterbox
from sigma.model.pixel_stats import LOCAL_CHANNELS
from sigma.model.refine import PIXEL_CHANNELS, FullResolutionRefiner
from tests.model.conftest import TINY, tiny_sigma


@pytest.fixture(scope="module")
def tiny_model():
    return tiny_sigma(refine={"dim": 8, "max_side": 96})


def test_fitted_and_capped_sizes_keep_the_aspect():
    assert fitted_size((479, 641), 256) == (191, 256)
    assert fitted_size((641, 479), 256) == (256, 191)
    assert capped_size((479, 641), 320) == (239, 320)
    assert capped_size((200, 100), 320) == (200, 100)


def test_letterbox_pads_instead_of_squashing():
    wide = torch.ones(3, 50, 100)
    canvas, covered = letterbox([wide, torch.ones(3, 100, 100)], 64)
    assert canvas.shape == (2, 3, 64, 64)
    assert covered == [(32 / 64, 1.0), (1.0, 1.0)]
    assert canvas[0, :, :32].min() > 0.999 and canvas[0, :, 32:].abs().max() == 0  # content on top, zero padding below


def test_canvas_is_only_as_large_as_a_fully_convolutional_backbone_needs():
    assert canvas_size((480, 640), 256) == (256, 256)  # square for a ViT
    assert canvas_size((480, 640), 256, 32) == (192, 256)
    assert canvas_size((427, 640), 256, 32) == (192, 256)  # 171 rounded up to the multiple
    assert canvas_size((640, 480), 256, 32) == (256, 192)
    canvas, covered = letterbox([torch.ones(3, 427, 640), torch.ones(3, 480, 640)], 256, 32)
    assert canvas.shape == (2, 3, 192, 256)
    assert covered == [(171 / 192, 1.0), (1.0, 1.0)]
    canvas, _ = letterbox([torch.ones(3, 480, 640), torch.ones(3, 640, 480)], 256, 32)
    assert canvas.shape[-2:] == (256, 256)  # mixed orientations: the largest of both


def test_uint8_images_resize_like_float_ones():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)
    as_float = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    fast = resize_image(image_view(image), (40, 53))
    torch.testing.assert_close(fast, resize_image(as_float, (40, 53)), atol=1 / 255, rtol=0)
    torch.testing.assert_close(resize_image(image_view(image), (97, 131))[0], as_float)  # same size: converted only


def test_l2_normalize_is_f_normalize_with_finite_gradients_at_zero():
    x = torch.randn(2, 5, 3, 4)
    x[0, :, 0, 0] = 0
    torch.testing.assert_close(l2_normalize(x), F.normalize(x, dim=1))
    x.requires_grad_(True)
    l2_normalize(x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_a_pairs_mask_does_not_depend_on_the_pairs_batched_with_it(tiny_model):
    rng = np.random.default_rng(1)
    wide = rng.integers(0, 255, (40, 80, 3), dtype=np.uint8)
    tall = rng.integers(0, 255, (80, 40, 3), dtype=np.uint8)
    alone = list(tiny_model.iter_outputs([(wide, 255 - wide, "remove the cat")]))
    mixed = list(tiny_model.iter_outputs([(tall, 255 - tall, "add a dog"), (wide, 255 - wide, "remove the cat")]))
    assert [m[0].shape[-2:] for m in mixed] == [(80, 40), (40, 80)]
    torch.testing.assert_close(mixed[1][0], alone[0][0], atol=1e-5, rtol=1e-5)


def test_crop_resize_maps_the_covered_share_back_onto_the_pair():
    # A map whose top half is 1 (the image) and bottom half 0 (padding): cropped and resized to the
    # image's size, the padding never leaks in.
    canvas = torch.zeros(1, 1, 16, 16)
    canvas[..., :8, :] = 1
    out = crop_resize(canvas, (0.5, 1.0), (37, 81))
    assert out.shape == (1, 1, 37, 81)
    torch.testing.assert_close(out, torch.ones_like(out))
    same = torch.rand(1, 2, 9, 9)
    torch.testing.assert_close(crop_resize(same, (1.0, 1.0), (9, 9)), same)


@pytest.mark.parametrize("size", [(479, 641), (641, 479), (33, 17), (96, 96)])
def test_masks_come_back_at_exactly_the_pairs_odd_size(tiny_model, size):
    rng = np.random.default_rng(0)
    original = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
    edited = original.copy()
    edited[: size[0] // 3, : size[1] // 3] = 255
    (annotation,) = tiny_model.annotate([(original, edited, "remove the cat")])
    assert annotation.mask.shape == size
    assert annotation.side_effect.shape == size


@pytest.mark.parametrize("size", [(479, 641), (33, 17)])
def test_identical_images_give_an_empty_mask_of_the_pairs_own_size(tiny_model, size):
    image = np.random.default_rng(1).integers(0, 255, (*size, 3), dtype=np.uint8)
    (annotation,) = tiny_model.annotate([(image, image.copy(), "remove the cat")])
    assert annotation.mask.shape == size
    assert not annotation.mask.any()


@pytest.mark.parametrize("local_stats", [False, True])
def test_untrained_refiner_is_the_identity_and_learns_from_pixels(local_stats):
    refiner = FullResolutionRefiner((4,), dim=8, blocks=1, local_stats=local_stats)
    coarse = torch.randn(2, 2, 24, 32)
    pixels = torch.rand(2, 3, 24, 32), torch.rand(2, 3, 24, 32)
    skips = [torch.rand(2, 4, 12, 16)], [torch.rand(2, 4, 12, 16)]
    torch.testing.assert_close(refiner(coarse, *pixels, skips), coarse)
    refiner(coarse, *pixels, skips)[:, 0].sum().backward()
    assert refiner.head.weight.grad.abs().sum() > 0
    torch.nn.init.normal_(refiner.head.weight)  # trained-like: every input channel reaches the logits
    refiner.zero_grad()
    refiner(coarse, *pixels, skips)[:, 0].sum().backward()
    embedding = refiner.pixel[0].weight.grad[:, :, 0, 0]
    assert embedding.shape[1] == PIXEL_CHANNELS + (LOCAL_CHANNELS if local_stats else 0)
    assert (embedding.abs().sum(0) > 0).all()


@pytest.mark.parametrize(("blocks", "reaches"), [(1, False), (4, True)])
def test_refiner_context_reaches_across_an_object_only_when_dilated(blocks, reaches):
    """A coarse logit 28 px away moves a pixel's refined logit only through the dilated context:
    4 blocks at half resolution reach 2 * (1 + 2 + 4 + 8) = 30 px (plus pooling and upsampling),
    one block 2 px.
    GroupNorm's image-wide statistics are taken out: they reach everywhere, by a hair."""
    torch.manual_seed(0)
    refiner = FullResolutionRefiner((), dim=8, blocks=blocks)
    torch.nn.init.normal_(refiner.head.weight)
    for block in refiner.context:
        block[1] = torch.nn.Identity()
    coarse = torch.zeros(1, 2, 96, 96, requires_grad=True)
    pixels = torch.rand(1, 3, 96, 96), torch.rand(1, 3, 96, 96)
    refiner.eval()(coarse, *pixels)[0, 0, 48, 48].backward()
    far = coarse.grad[0, 0, 48, 76].abs().item()
    assert (far > 0) == reaches


def test_refined_logits_follow_the_full_resolution_view(tiny_model):
    x = torch.rand(2, 3, 48, 48)
    pixels = torch.rand(2, 3, 72, 72), torch.rand(2, 3, 72, 72)
    out = tiny_model.forward_features(x, x.flip(-1), torch.rand(2, 1, 3, 3), pixels=pixels)
    assert out["logits"].shape == (2, 2, 72, 72)
    assert out["coarse"].shape[-2:] == tiny_model.decoder.work_size((48, 48))
    assert out["changes"].shape == out["levels"].shape


def test_change_vectors_vanish_for_identical_features_and_ignore_position(tiny_model):
    feats = [torch.rand(1, c, 4, 4) for c in tiny_model.backbone.channels]
    msdb = tiny_model.difference.msdb
    assert msdb.change_vectors(feats, feats).abs().max() == 0
    edited = [f.clone() for f in feats]
    for f in edited:
        f[..., 0, 0] += 1  # one changed cell per level
    vectors = msdb.change_vectors(feats, edited)
    assert vectors[:, :, 0].abs().sum() > 0 and vectors[:, :, 1:].abs().max() < 1e-6


def test_legacy_checkpoints_load_squashed_and_unrefined(tiny_model, tmp_path):
    legacy = ModelParams.model_validate({**TINY, "geometry": "squash", "refine": {"enabled": False}})
    torch.manual_seed(1)
    model = build_sigma(legacy, load_grounder=False)
    path = save_checkpoint(model, tmp_path / "old.safetensors")
    # Rewrite the header as a checkpoint from before the refiner existed: no geometry, no refine.
    from safetensors.torch import load_file, save_file

    from sigma.model.checkpoint import read_metadata

    meta = read_metadata(path)
    config = ModelParams.model_validate_json(meta["model"]).model_dump(mode="json", exclude={"geometry", "refine"})
    import json

    save_file(load_file(str(path)), str(path), metadata={**meta, "model": json.dumps(config)})
    loaded = load_checkpoint(path)
    assert loaded.refiner is None and loaded.config.geometry == "squash"
    image = np.random.default_rng(1).integers(0, 255, (40, 70, 3), dtype=np.uint8)
    assert loaded.annotate([(image, image, "")])[0].mask.shape == (40, 70)
