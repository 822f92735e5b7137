"""Pixel statistics on the token grid (beyond the paper): what a frozen backbone does not see.

ImageNet backbones are trained to ignore brightness, saturation and slight blur (colour-jitter
augmentation), which are exactly what an attribute edit changes: "brighten the car" barely moves
a MobileNet feature. Per token, both images' mean and standard deviation in an opponent colour
space (luma, two chroma axes; the deviation is local contrast, which blurring lowers) are compared
unnormalised and signed, projected to the token width and added to every difference level before
the DRBs, which can then tell a change shared by all tokens (re-rendering) from one that only an
object's tokens carry (an edit).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sigma.model.blocks import map_to_tokens

# RGB -> (luma, blue-yellow, red-green), BT.601 luma: a linear map, so the statistics stay cheap.
OPPONENT = torch.tensor([[0.299, 0.587, 0.114], [-0.169, -0.331, 0.5], [0.5, -0.419, -0.081]])
STAT_CHANNELS = 6  # mean and standard deviation of each opponent channel


def token_statistics(image: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """``(B, 3, H, W)`` in [0, 1] -> ``(B, 6, h, w)``: per grid cell, the mean and standard deviation
    of each opponent channel."""
    x = torch.einsum("oc,bchw->bohw", OPPONENT.to(image), image)
    mean = F.adaptive_avg_pool2d(x, grid)
    var = (F.adaptive_avg_pool2d(x * x, grid) - mean * mean).clamp_min(0)
    return torch.cat([mean, (var + 1e-6).sqrt()], 1)


class PixelStatisticsDifference(nn.Module):
    """``[s_e - s_o, |s_e - s_o|, s_o]`` of both images' token statistics -> a 1x1 projection to
    ``dim``: ``(B, N, dim)`` tokens. Zero-initialised: an untrained block adds nothing."""

    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3 * STAT_CHANNELS, dim, 1)
        nn.init.zeros_(self.proj.weight)
        assert self.proj.bias is not None  # nn.Conv2d has a bias unless bias=False
        nn.init.zeros_(self.proj.bias)

    def forward(self, original: torch.Tensor, edited: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """Both images ``(B, 3, H, W)`` in [0, 1] (the backbone's input) -> ``(B, h*w, dim)``."""
        s_o, s_e = token_statistics(original, grid), token_statistics(edited, grid)
        # Scaled so a 0.1 change (about 25 grey levels) is of order one, as the other inputs are.
        delta = (s_e - s_o) * 10
        return map_to_tokens(self.proj(torch.cat([delta, delta.abs(), s_o * 4], 1)))
