"""A compact IML detector: the packaged ImageNet MobileNetV2, fine-tuned, with a light U-Net decoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from sigma.model.backbones.mobilenet import packaged_weights
from sigma.model.backbones.weights import load_state_dict
from sigma.model.blocks import ConvNormAct
from sigma.model.detectors.base import Detector

# ``features`` indices where the stride 2, 4, 8 and 16 maps are complete (16, 24, 32, 96 channels).
TAPS = (2, 4, 7, 14)


class MobileNetUNet(Detector):
    """Encoder taps at strides 2-16, fused top-down (1x1 laterals, upsample, add, 3x3 conv) into a
    ``decoder_dim``-channel stride-2 map, a 1x1 head, and a bilinear upsample to the input.

    ``frozen_stages``: the first encoder stages (ImageNet's generic low-level filters) kept as loaded,
    batch-norm statistics included; their backward pass is the costliest, at the highest resolution.
    """

    def __init__(
        self,
        input_size: int = 160,
        decoder_dim: int = 32,
        pretrained: bool = True,
        weights: str | None = None,
        frozen_stages: int = 0,
    ):
        super().__init__(input_size)
        if not 0 <= frozen_stages <= len(TAPS):
            raise ValueError(f"frozen_stages must be 0-{len(TAPS)}, got {frozen_stages}")
        net = torchvision.models.mobilenet_v2(weights=None)
        if pretrained:
            net.load_state_dict(load_state_dict(weights or packaged_weights()))
        starts = (0, *TAPS[:-1])
        self.stages = nn.ModuleList(net.features[a:b] for a, b in zip(starts, TAPS, strict=True))
        channels = [_out_channels(stage) for stage in self.stages]
        self.laterals = nn.ModuleList(nn.Conv2d(c, decoder_dim, 1) for c in channels)
        self.smooth = nn.ModuleList(ConvNormAct(decoder_dim, decoder_dim) for _ in channels[:-1])
        self.head = nn.Conv2d(decoder_dim, 1, 1)
        self.frozen_stages = frozen_stages
        self.stages[:frozen_stages].requires_grad_(False)

    def train(self, mode: bool = True) -> MobileNetUNet:
        super().train(mode)
        self.stages[: self.frozen_stages].eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        levels = []
        for stage in self.stages:
            x = stage(x)
            levels.append(x)
        y = self.laterals[-1](levels[-1])
        for level, lateral, smooth in zip(levels[-2::-1], self.laterals[-2::-1], self.smooth[::-1], strict=True):
            y = F.interpolate(y, size=level.shape[-2:], mode="bilinear", align_corners=False)
            y = smooth(y + lateral(level))
        return F.interpolate(self.head(y), size=size, mode="bilinear", align_corners=False)


def _out_channels(stage: nn.Module) -> int:
    return [m for m in stage.modules() if isinstance(m, nn.Conv2d)][-1].out_channels
