"""The frozen-backbone contract: images in, L feature levels on one common token grid out."""

from __future__ import annotations

import torch
from torch import nn

from sigma.model.blocks import resample

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PretrainedPart(nn.Module):
    """A frozen module whose weights come from a named source (package, hub cache, local file).

    Checkpoints may leave such parts out and rebuild them from the source; they stay in eval mode
    (frozen BatchNorm statistics) whatever mode their parent is put in.
    """

    def freeze(self) -> PretrainedPart:
        self.requires_grad_(False)
        return self.eval()

    def train(self, mode: bool = True) -> PretrainedPart:  # noqa: ARG002 - frozen: always eval
        return super().train(False)


class Backbone(PretrainedPart):
    """Frozen extractor: ``(B, 3, H, W)`` in [0, 1] -> L maps ``(B, C_l, h, w)`` on one grid.

    Subclasses implement :meth:`extract` (raw levels at their own strides) and set
    ``channels`` (``C_l`` per level) and ``stride`` (input pixels per grid cell).
    """

    channels: tuple[int, ...]
    stride: int
    chunk: int | None = None  # images per extract call (None: all at once)

    def __init__(self, input_size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        self.input_size = input_size
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def grid(self, size: tuple[int, int] | None = None) -> tuple[int, int]:
        """Token grid ``(h, w)`` for an input of ``size`` (default: the square input size)."""
        h, w = size or (self.input_size, self.input_size)
        return max(1, h // self.stride), max(1, w // self.stride)

    def extract(self, x: torch.Tensor) -> list[torch.Tensor]:
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        grid = self.grid(tuple(images.shape[-2:]))
        x = (images - self.mean) / self.std
        # Small chunks keep a CPU's working set in cache (batch 16 ran 2x slower per image);
        # each image is processed alone anyway (frozen, eval), so the result is the same.
        parts = [self.extract(c) for c in (x.split(self.chunk) if self.chunk else [x])]
        return [resample(torch.cat(level), grid) for level in zip(*parts, strict=True)]
