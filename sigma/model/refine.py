"""Full-resolution refinement of the coarse edit logits (beyond the paper's decoder).

The decoder's map lives on a grid a few pixels coarse at best; this small head re-decides each
pixel at the pair's own resolution from what only full resolution has: both images, their
absolute difference and the backbone's early (stride 2 and 4) maps, a U-Net-style skip. The
coarse logit tells it where content changed; the pixels tell it where the boundary is.

Cost: per-pixel (1x1) layers at full resolution and the only dense 3x3 conv at half resolution,
so refinement stays cheap on a CPU (the annotator must run at corpus scale).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sigma.model.blocks import ConvNormAct, feature_change
from sigma.model.pixel_stats import LOCAL_CHANNELS, local_statistics_change

PIXEL_CHANNELS = 3 + 3 + 3 + 1  # original, edited, |difference| (log scale), coarse edit logit
# |o - e| enters as log(1 + 255 d) / log(256): a one-level change (1/255) is already 0.125, so the
# head can tell "exactly unchanged" from "slightly changed" without huge weights.
DIFF_GAIN = 255.0
LOGIT_SCALE = 4.0  # coarse logits enter as tanh(logit / scale): bounded, still monotone
# Both images' early backbone maps ``(s_o, s_e)``, finest first; empty when the backbone has none.
Skips = tuple[Sequence[torch.Tensor], Sequence[torch.Tensor]]


class FullResolutionRefiner(nn.Module):
    """Refines channel 0 (edit) of ``coarse`` ``(B, 2, H, W)`` with a residual; channel 1 passes.

    Per pixel: a 1x1 embedding of the pixels and the coarse logit. At half resolution: that
    embedding pooled, plus the early backbone maps' change ``|n(s_o) - n(s_e)|``, through dense 3x3
    convs (context). Back at full resolution: the two summed, a depthwise 3x3 and a 1x1 head.

    Args:
        skip_channels: ``C_k`` of the backbone's early maps (finest first); may be empty (ViT).
        dim: feature width.
        blocks: dense 3x3 conv layers at half resolution, dilated 1, 2, 4, ...
        local_stats: the pixels also carry the change of their chroma and local contrast
            (:func:`~sigma.model.pixel_stats.local_statistics_change`): a fade or a blur of a
            smooth surface moves them where it barely moves the colour difference.
    """

    def __init__(self, skip_channels: tuple[int, ...], dim: int = 16, blocks: int = 1, local_stats: bool = False):
        super().__init__()
        self.local_stats = local_stats
        in_channels = PIXEL_CHANNELS + (LOCAL_CHANNELS if local_stats else 0)
        self.pixel = nn.Sequential(nn.Conv2d(in_channels, dim, 1), nn.GELU())
        self.skips = nn.ModuleList(nn.Conv2d(c, dim, 1) for c in skip_channels)
        # Dilation doubles per block (1, 2, 4, ...): the context reaches across whole objects, so the
        # refiner can extend the coarse map to where the pixels say the same object changed.
        self.context = nn.Sequential(*(ConvNormAct(dim, dim, dilation=2**i) for i in range(blocks)))
        self.local = nn.Sequential(nn.Conv2d(dim, dim, 3, padding=1, groups=dim), nn.GELU())
        self.head = nn.Conv2d(dim, 1, 1)
        # Zero-initialised: an untrained refiner returns the coarse logits unchanged.
        nn.init.zeros_(self.head.weight)
        assert self.head.bias is not None  # nn.Conv2d has a bias unless bias=False
        nn.init.zeros_(self.head.bias)

    def forward(
        self,
        coarse: torch.Tensor,
        original: torch.Tensor,
        edited: torch.Tensor,
        skips: Skips = ((), ()),
    ) -> torch.Tensor:
        """``coarse`` ``(B, 2, H, W)`` logits, ``original``/``edited`` ``(B, 3, H, W)`` in [0, 1],
        ``skips``: both images' early maps ``(B, C_k, h_k, w_k)`` covering the same field of view
        (any resolution) -> refined logits ``(B, 2, H, W)``."""
        size = (coarse.shape[-2], coarse.shape[-1])
        half = (max(1, size[0] // 2), max(1, size[1] // 2))
        edit = coarse[:, :1]
        diff = torch.log1p(DIFF_GAIN * (original - edited).abs()) / math.log1p(DIFF_GAIN)
        inputs = [original, edited, diff, torch.tanh(edit / LOGIT_SCALE)]
        if self.local_stats:
            inputs.append(local_statistics_change(original, edited))
        x = self.pixel(torch.cat(inputs, 1))
        ctx = F.adaptive_avg_pool2d(x, half)
        for proj, s_o, s_e in zip(self.skips, *skips, strict=False):
            ctx = ctx + F.interpolate(proj(feature_change(s_o, s_e)), size=half, mode="bilinear", align_corners=False)
        ctx = F.interpolate(self.context(ctx), size=size, mode="bilinear", align_corners=False)
        return torch.cat([edit + self.head(self.local(x + ctx)), coarse[:, 1:]], 1)
