"""Top-down FPN decoder over the refined difference levels, fused with ``Z``, to mask logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sigma.model.blocks import ConvNormAct, ResidualConvBlock, resample

OUT_CHANNELS = 2  # 0: edit (changed content), 1: attribution (intended rather than side-effect)


class FPNMaskDecoder(nn.Module):
    """Levels (shallow -> deep) ``(B, C, h, w)`` pooled to grid, grid/2, grid/4; top-down sum;
    the finest map and ``Z`` fused (1x1) and upsampled to ``input / stride``; residual conv blocks; 1x1 head.

    Returns ``(B, 2, H/stride, W/stride)`` logits, or at ``out_size`` when given.
    """

    def __init__(self, dim: int, decoder_dim: int, n_levels: int = 3, stride: int = 1, n_blocks: int = 2):
        super().__init__()
        self.stride = stride
        self.lateral = nn.ModuleList(nn.Conv2d(dim, decoder_dim, 1) for _ in range(n_levels))
        self.smooth = ConvNormAct(decoder_dim, decoder_dim)
        self.fuse = ConvNormAct(decoder_dim + dim, decoder_dim, kernel=1)
        self.blocks = nn.Sequential(*(ResidualConvBlock(decoder_dim) for _ in range(n_blocks)))
        self.head = nn.Conv2d(decoder_dim, OUT_CHANNELS, 1)

    @staticmethod
    def pyramid_sizes(grid: tuple[int, int], n_levels: int) -> list[tuple[int, int]]:
        """Shallowest at the grid, each deeper level halved (at least 1 cell)."""
        return [(max(1, round(grid[0] / 2**i)), max(1, round(grid[1] / 2**i))) for i in range(n_levels)]

    def work_size(self, input_size: tuple[int, int]) -> tuple[int, int]:
        """Where the residual blocks run for an input of ``input_size``: ``input / stride``."""
        return max(1, input_size[0] // self.stride), max(1, input_size[1] // self.stride)

    def forward(
        self,
        levels: list[torch.Tensor],
        z: torch.Tensor,
        input_size: tuple[int, int],
        out_size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        """Logits at ``out_size``, or where the blocks ran (``input_size / stride``) when None."""
        grid = (z.shape[-2], z.shape[-1])
        sizes = self.pyramid_sizes(grid, len(levels))
        p = None
        for level, lateral, size in reversed(list(zip(levels, self.lateral, sizes, strict=True))):
            lat = lateral(resample(level, size))
            p = lat if p is None else lat + F.interpolate(p, size=size, mode="bilinear", align_corners=False)
        p = self.smooth(p)
        work = self.work_size(input_size)
        # The fuse's 1x1 conv commutes with bilinear upsampling (both linear, interpolation weights sum
        # to 1), so it runs on the token grid: upsampling dim + decoder_dim channels to full resolution
        # would cost (B, dim, H, W) memory, which at 518² overflows int32 indexing from batch 32.
        conv, norm, act = self.fuse
        fused = conv(torch.cat([resample(p, grid), z], dim=1))
        x = self.blocks(act(norm(F.interpolate(fused, size=work, mode="bilinear", align_corners=False))))
        logits = self.head(x)
        if out_size is not None and tuple(logits.shape[-2:]) != tuple(out_size):
            logits = F.interpolate(logits, size=out_size, mode="bilinear", align_corners=False)
        return logits
