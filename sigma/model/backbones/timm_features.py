"""Any timm model with ``features_only`` as a backbone (experiments: ``timm:<model name>``)."""

from __future__ import annotations

from typing import Any, cast

import timm
import torch

from sigma.model.backbones.base import Backbone
from sigma.model.backbones.weights import require_file


class TimmFeaturesBackbone(Backbone):
    """Three feature stages (default: the last three) resampled to the middle stage's grid."""

    def __init__(
        self,
        arch: str,
        input_size: int = 256,
        weights: str | None = None,
        pretrained: bool = True,
        layers: tuple[int, ...] | None = None,
        **kwargs: Any,
    ):
        super().__init__(input_size)
        if pretrained:
            require_file(weights)
        overlay = {"file": weights} if (pretrained and weights) else None
        # Any: nn.Module.__getattr__ types the features model's attributes (feature_info, ...) as Tensor | Module.
        probe: Any = cast(Any, timm.create_model(arch, pretrained=False, features_only=True, **kwargs))
        indices = tuple(layers or range(len(probe.feature_info))[-3:])
        self.net: Any = cast(
            Any,
            timm.create_model(
                arch,
                pretrained=pretrained,
                features_only=True,
                out_indices=indices,
                pretrained_cfg_overlay=overlay,
                **kwargs,
            ),
        )
        cfg = self.net.pretrained_cfg
        self.mean.copy_(torch.tensor(cfg.get("mean", (0.485, 0.456, 0.406))).view(1, 3, 1, 1))
        self.std.copy_(torch.tensor(cfg.get("std", (0.229, 0.224, 0.225))).view(1, 3, 1, 1))
        self.channels = tuple(self.net.feature_info.channels())
        reductions = self.net.feature_info.reduction()
        self.stride = reductions[len(reductions) // 2]
        self.freeze()

    def extract(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(self.net(x))
