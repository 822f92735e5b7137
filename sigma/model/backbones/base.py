"""The frozen-backbone contract: images in, L feature levels on one common token grid out."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

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

    @property
    def fused(self) -> bool:
        """True once :meth:`fuse_batchnorm` folded a BatchNorm (the weights are no longer the source's)."""
        return any(isinstance(m, FoldedBatchNorm) for m in self.modules())

    def fuse_batchnorm(self) -> PretrainedPart:
        """Folds every BatchNorm that directly follows a conv in a ``Sequential`` into that conv.

        Frozen statistics make this exact up to rounding, and MobileNetV2 runs ~16% faster on a CPU.
        The state dict then differs from the source's, so checkpoints refuse a fused part: fuse only
        a model that annotates, after its weights digest is taken. Idempotent.
        """
        for seq in [m for m in self.modules() if isinstance(m, nn.Sequential)]:
            names = list(seq._modules)
            for conv_name, norm_name in zip(names, names[1:], strict=False):
                conv, norm = seq._modules[conv_name], seq._modules[norm_name]
                if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                    seq._modules[conv_name] = fuse_conv_bn_eval(conv, norm)
                    seq._modules[norm_name] = FoldedBatchNorm()
        return self


class FoldedBatchNorm(nn.Identity):
    """Where a BatchNorm was before :meth:`PretrainedPart.fuse_batchnorm` folded it into its conv."""


class Backbone(PretrainedPart):
    """Frozen extractor: ``(B, 3, H, W)`` in [0, 1] -> L maps ``(B, C_l, h, w)`` on one grid.

    Subclasses implement :meth:`extract` (raw levels at their own strides) and set
    ``channels`` (``C_l`` per level) and ``stride`` (input pixels per grid cell).
    """

    channels: tuple[int, ...]
    stride: int
    chunk: int | None = None  # images per extract call (None: all at once)
    # Early maps finer than the grid (MobileNetV2: stride 2 and 4), finest first, for the
    # full-resolution refinement; a ViT has none (its patch grid is its finest map).
    skip_channels: tuple[int, ...] = ()
    # A fully convolutional backbone takes any input whose sides are multiples of this (its coarsest
    # stride), so a pair's canvas need not be padded to a square; None: square inputs only (a ViT's
    # position embeddings).
    size_multiple: int | None = None
    # Buffers registered in __init__ (nn.Module.__getattr__ would type them as ``Tensor | Module``).
    mean: torch.Tensor
    std: torch.Tensor

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

    def extract_with_skips(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Raw levels at their native strides, and the early skip maps (``skip_channels``)."""
        return self.extract(x), []

    def forward(self, images: torch.Tensor, with_skips: bool = False):
        """L maps ``(B, C_l, h, w)`` on the grid; with ``with_skips`` also the skip maps
        ``(B, C_k, H / s_k, W / s_k)`` at their native strides: ``(levels, skips)``."""
        grid = self.grid((images.shape[-2], images.shape[-1]))
        # Channels-last input: oneDNN's convolutions run ~25% faster on it on a CPU (same result).
        x = ((images - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        # Small chunks keep a CPU's working set in cache (batch 16 ran 2x slower per image);
        # each image is processed alone anyway (frozen, eval), so the result is the same.
        parts = [self.extract_with_skips(c) for c in (x.split(self.chunk) if self.chunk else [x])]
        levels = [resample(torch.cat(level), grid) for level in zip(*(p[0] for p in parts), strict=True)]
        if not with_skips:
            return levels
        return levels, [torch.cat(skip) for skip in zip(*(p[1] for p in parts), strict=True)]
