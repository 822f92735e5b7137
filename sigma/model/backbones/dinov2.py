"""DINOv2 ViT (paper: ViT-B/14 at 518², patch tokens of blocks {2, 5, 11}) through timm."""

from __future__ import annotations

from typing import Any, cast

import timm
import torch

from sigma.model.backbones.base import Backbone
from sigma.model.backbones.weights import require_file

DEFAULT_LAYERS = (2, 5, 11)


class DinoV2Backbone(Backbone):
    """Patch tokens of ``layers`` as ``(B, 768, 37, 37)`` maps at 518² (grid = input // 14).

    Weights: ``weights`` (local ``.pth``/``.safetensors``), else the Hugging Face cache
    (``timm/<arch>.lvd142m``; offline here, so it must already be cached), or none at all with
    ``pretrained=False`` (tests, benchmarks).
    """

    def __init__(
        self,
        input_size: int = 518,
        weights: str | None = None,
        pretrained: bool = True,
        layers: tuple[int, ...] | None = None,
        arch: str = "vit_base_patch14_dinov2.lvd142m",
        **kwargs: Any,
    ):
        super().__init__(input_size)
        if pretrained:
            require_file(weights)
        overlay = {"file": weights} if (pretrained and weights) else None
        # Any: nn.Module.__getattr__ types the ViT's submodules (blocks, patch_embed, ...) as Tensor | Module.
        self.vit: Any = cast(
            Any,
            timm.create_model(
                arch,
                pretrained=pretrained,
                img_size=input_size,
                num_classes=0,
                pretrained_cfg_overlay=overlay,
                dynamic_img_size=True,
                dynamic_img_pad=True,
                **kwargs,
            ),
        )
        self.layers = tuple(layers or DEFAULT_LAYERS)
        if max(self.layers) >= len(self.vit.blocks):
            raise ValueError(f"layers {self.layers} out of range: the ViT has {len(self.vit.blocks)} blocks")
        self.stride = self.vit.patch_embed.patch_size[0]
        self.channels = (self.vit.embed_dim,) * len(self.layers)
        self.freeze()

    def extract(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(self.vit.get_intermediate_layers(x, n=list(self.layers), reshape=True))
