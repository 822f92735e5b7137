"""Frozen backbones: every registered name, the packaged ImageNet weights, local weight files."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sigma.config import BackboneParams
from sigma.model.backbones import build_backbone, list_backbones
from sigma.model.backbones.base import IMAGENET_MEAN, IMAGENET_STD
from sigma.model.backbones.registry import TIMM_PREFIX

TINY_VIT = {"depth": 3, "embed_dim": 32, "num_heads": 2}
TIMM_EXAMPLE = "timm:resnet18"
N_LEVELS = 3
# Expected (stride, channels) per backbone family; they follow from the architectures.
EXPECTED = {
    "dinov2": (14, (TINY_VIT["embed_dim"],) * N_LEVELS),  # patch 14, the tiny ViT's width
    "mobilenet_v2_imagenet": (16, (32, 96, 320)),  # stages ending at strides 8/16/32, stride-16 grid
    TIMM_EXAMPLE: (16, (128, 256, 512)),  # resnet18's last three stages (8/16/32), the middle grid
}


def tiny_params(name: str, **update) -> BackboneParams:
    """A fast, weight-free configuration of a registered backbone name."""
    if name.startswith(TIMM_PREFIX):
        params = BackboneParams(name=TIMM_EXAMPLE, input_size=64, pretrained=False)
    elif name.startswith("dinov2"):
        params = BackboneParams(name=name, input_size=70, pretrained=False, layers=(0, 1, 2), kwargs=TINY_VIT)
    else:
        params = BackboneParams(name=name, input_size=64, pretrained=False)
    return params.model_copy(update=update)


def _expected(params: BackboneParams):
    key = "dinov2" if params.name.startswith("dinov2") else params.name
    return EXPECTED.get(key)


@pytest.mark.parametrize("name", list_backbones())
def test_backbone_levels_share_one_grid(name):
    params = tiny_params(name)
    backbone = build_backbone(params)
    s = params.input_size
    feats = backbone(torch.rand(2, 3, s, s))
    assert len(feats) == len(backbone.channels) == N_LEVELS
    grid = backbone.grid()
    assert grid == (s // backbone.stride, s // backbone.stride)
    for f, c in zip(feats, backbone.channels, strict=True):
        assert f.shape == (2, c, *grid)
        assert torch.isfinite(f).all()
    if (expected := _expected(params)) is not None:
        assert (backbone.stride, backbone.channels) == expected


@pytest.mark.parametrize("name", list_backbones())
def test_backbone_takes_other_non_square_sizes(name):
    """The contract (Backbone.grid(size), forward_features on any H x W): inputs other than the
    square input_size, e.g. training crops, give the grid of their own size."""
    params = tiny_params(name)
    backbone = build_backbone(params)
    h, w = 4 * backbone.stride, 7 * backbone.stride
    feats = backbone(torch.rand(1, 3, h, w))
    for f, c in zip(feats, backbone.channels, strict=True):
        assert f.shape == (1, c, 4, 7)
    # sizes that are no multiple of the stride (a 192 crop for a patch-14 ViT) get the floor grid
    odd = (4 * backbone.stride + backbone.stride // 2, 5 * backbone.stride + 1)
    for f in backbone(torch.rand(1, 3, *odd)):
        assert tuple(f.shape[-2:]) == backbone.grid(odd) == (4, 5)


@pytest.mark.parametrize("name", list_backbones())
def test_backbone_is_frozen_and_stays_in_eval(name):
    backbone = build_backbone(tiny_params(name))
    assert all(not p.requires_grad for p in backbone.parameters())
    parent = torch.nn.Sequential(backbone)
    parent.train()
    assert not any(m.training for m in backbone.modules())


def test_unknown_backbone_lists_known_names():
    with pytest.raises(KeyError) as info:
        build_backbone(BackboneParams(name="no_such_backbone", pretrained=False))
    message = str(info.value)
    assert "no_such_backbone" in message
    for known in list_backbones():
        assert known in message


def test_dinov2_layers_out_of_range_is_a_clear_error():
    with pytest.raises(ValueError, match="out of range"):
        build_backbone(tiny_params("dinov2_vitb14", layers=(0, 5)))


# --- MobileNetV2: the packaged weights are the real ImageNet ones -----------------------------


def test_packaged_mobilenet_weights_classify_a_cat():
    skimage_data = pytest.importorskip("skimage.data")
    import torchvision

    from sigma.model.backbones.mobilenet import packaged_weights
    from sigma.model.backbones.weights import load_state_dict

    net = torchvision.models.mobilenet_v2(weights=None)
    net.load_state_dict(load_state_dict(packaged_weights()))
    net.eval()
    img = torch.from_numpy(skimage_data.chelsea()).permute(2, 0, 1)[None].float() / 255
    img = F.interpolate(img, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    x = (img - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        top1 = int(net(x).argmax())
    assert 281 <= top1 <= 285, f"top-1 class {top1} is not a domestic cat (ImageNet 281..285)"


def test_mobilenet_backbone_uses_the_packaged_weights():
    from sigma.model.backbones.mobilenet import packaged_weights
    from sigma.model.backbones.weights import load_state_dict

    reference = load_state_dict(packaged_weights())
    backbone = build_backbone(BackboneParams(name="mobilenet_v2_imagenet", input_size=64))
    first_conv = backbone.stages[0][0][0]
    assert torch.equal(first_conv.weight, reference["features.0.0.weight"])
    bn = backbone.stages[0][0][1]
    assert torch.equal(bn.running_var, reference["features.0.1.running_var"])


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_mobilenet_local_weights_file(tmp_path, suffix):
    import torchvision
    from safetensors.torch import save_file

    torch.manual_seed(0)
    state = {
        k: torch.randn_like(v) if v.is_floating_point() else v
        for k, v in torchvision.models.mobilenet_v2(weights=None).state_dict().items()
    }
    file = tmp_path / f"mnv2{suffix}"
    save_file(state, str(file)) if suffix == ".safetensors" else torch.save(state, file)
    backbone = build_backbone(BackboneParams(name="mobilenet_v2_imagenet", input_size=64, weights=str(file)))
    # stages.<i>.<j>.<rest> slices features.<j>.<rest> (Sequential slices keep their indices)
    loaded = {"features." + k.split(".", 2)[2]: v for k, v in backbone.state_dict().items()}
    assert loaded
    for k, v in loaded.items():
        assert torch.equal(v, state[k]), k


# --- DINOv2 / timm: timm's real local-file loading path ------------------------------------------


def _random_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The module's state with every float tensor redrawn, so that no value can match a fresh init."""
    gen = torch.Generator().manual_seed(0)
    return {
        k: torch.randn(v.shape, generator=gen, dtype=v.dtype) if v.is_floating_point() else v.clone()
        for k, v in module.state_dict().items()
    }


def _save(state: dict[str, torch.Tensor], file) -> None:
    if file.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(file))
    else:
        torch.save(state, file)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_dinov2_loads_a_local_weights_file(tmp_path, suffix):
    params = tiny_params("dinov2_vitb14")
    state = _random_state(build_backbone(params).vit)
    file = tmp_path / f"vit{suffix}"
    _save(state, file)

    backbone = build_backbone(params.model_copy(update={"weights": str(file)}), pretrained=True)
    loaded = backbone.vit.state_dict()
    assert set(loaded) == set(state)
    for k, v in state.items():
        assert torch.equal(loaded[k], v), k
    assert all(not p.requires_grad for p in backbone.parameters())


def test_timm_backbone_loads_a_local_weights_file(tmp_path):
    import timm

    state = _random_state(timm.create_model(TIMM_EXAMPLE[len(TIMM_PREFIX) :], pretrained=False))
    file = tmp_path / "resnet18.safetensors"
    _save(state, file)
    backbone = build_backbone(tiny_params(TIMM_EXAMPLE, weights=str(file), pretrained=True))
    loaded = backbone.net.state_dict()
    assert loaded, "features net is empty"
    for k, v in loaded.items():
        assert torch.equal(v, state[k]), k


@pytest.mark.parametrize("name", ["mobilenet_v2_imagenet", "dinov2_vitb14", TIMM_EXAMPLE])
def test_missing_weights_file_is_a_clear_error(tmp_path, name):
    missing = tmp_path / "no-such-weights.safetensors"
    with pytest.raises(FileNotFoundError, match="no-such-weights"):
        build_backbone(tiny_params(name, weights=str(missing), pretrained=True))


def test_chunked_backbone_gives_the_batched_features():
    params = BackboneParams(name="mobilenet_v2_imagenet", input_size=64)
    chunked, whole = build_backbone(params), build_backbone(params.model_copy(update={"chunk": None}))
    assert chunked.chunk == 2 and whole.chunk is None
    images = torch.rand(5, 3, 64, 64)  # 5: the last chunk is short
    for a, b in zip(chunked(images), whole(images), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


BN_STATS = ((-0.5, 0.5), (0.5, 2.0), (0.5, 1.5), (-0.5, 0.5))  # running mean, running var, weight, bias


@pytest.mark.parametrize("name", list_backbones())
def test_folding_batchnorm_keeps_the_features(name):
    """``fuse_batchnorm`` (annotation runs) is exact up to rounding, on non-trivial statistics;
    MobileNetV2's every BatchNorm follows a conv, so none is left."""
    torch.manual_seed(0)
    backbone = build_backbone(tiny_params(name))
    for m in backbone.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            for t, (lo, hi) in zip((m.running_mean, m.running_var, m.weight, m.bias), BN_STATS, strict=True):
                t.data.uniform_(lo, hi)
    x = torch.rand(2, 3, backbone.input_size, backbone.input_size)
    levels, skips = backbone(x, with_skips=True)
    fused_levels, fused_skips = backbone.fuse_batchnorm()(x, with_skips=True)
    for a, b in zip(levels + skips, fused_levels + fused_skips, strict=True):
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)
    if name == "mobilenet_v2_imagenet":
        assert backbone.fused and not any(isinstance(m, torch.nn.BatchNorm2d) for m in backbone.modules())
