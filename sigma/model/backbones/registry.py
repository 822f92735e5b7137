"""Backbones by name (``model.backbone.name``)."""

from __future__ import annotations

from collections.abc import Callable

from sigma.config import BackboneParams
from sigma.model.backbones.base import Backbone
from sigma.registry import Registry

BACKBONES: Registry[Callable[..., Backbone]] = Registry("backbone")
register_backbone = BACKBONES.register
TIMM_PREFIX = "timm:"  # any timm model by name, outside the registry


def list_backbones() -> list[str]:
    return sorted(BACKBONES.names()) + [f"{TIMM_PREFIX}<model>"]


def build_backbone(params: BackboneParams, pretrained: bool | None = None) -> Backbone:
    """The frozen backbone ``params.name`` names; ``pretrained`` overrides ``params.pretrained``."""
    use_weights = params.pretrained if pretrained is None else pretrained
    common = dict(
        input_size=params.input_size,
        weights=params.weights,
        pretrained=use_weights,
        layers=params.layers,
        **params.kwargs,
    )
    if params.name.startswith(TIMM_PREFIX):
        from sigma.model.backbones.timm_features import TimmFeaturesBackbone

        backbone: Backbone = TimmFeaturesBackbone(params.name[len(TIMM_PREFIX) :], **common)
    elif params.name in BACKBONES:
        backbone = BACKBONES.get(params.name)(**common)
    else:
        raise KeyError(f"unknown backbone {params.name!r}; known: {list_backbones()}")
    backbone.chunk = params.chunk
    return backbone


@register_backbone("mobilenet_v2_imagenet")
def _mobilenet(**kwargs) -> Backbone:
    from sigma.model.backbones.mobilenet import MobileNetV2Backbone

    return MobileNetV2Backbone(**kwargs)


@register_backbone("dinov2_vitb14")
def _dinov2_base(**kwargs) -> Backbone:
    from sigma.model.backbones.dinov2 import DinoV2Backbone

    return DinoV2Backbone(arch="vit_base_patch14_dinov2.lvd142m", **kwargs)


@register_backbone("dinov2_vits14")
def _dinov2_small(**kwargs) -> Backbone:
    from sigma.model.backbones.dinov2 import DinoV2Backbone

    return DinoV2Backbone(arch="vit_small_patch14_dinov2.lvd142m", **kwargs)
