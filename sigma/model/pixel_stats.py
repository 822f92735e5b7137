"""Pixel statistics on the token grid (beyond the paper): what a frozen backbone does not see.

ImageNet backbones are trained to ignore brightness, saturation and slight blur (colour-jitter
augmentation), which are exactly what an attribute edit changes: "brighten the car" barely moves
a MobileNet feature. Per token, both images' mean and standard deviation in an opponent colour
space (luma, two chroma axes; the deviation is local contrast, which blurring lowers) are compared
unnormalised and signed, projected to the token width and added to every difference level before
the DRBs, which can then tell a change shared by all tokens (re-rendering) from one that only an
object's tokens carry (an edit).

:func:`local_statistics` is the per-pixel counterpart the full-resolution refiner reads: a token
averages a fade or a blur with the object's flat surroundings, a pixel does not.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sigma.model.blocks import map_to_tokens

# RGB -> (luma, blue-yellow, red-green), BT.601 luma: a linear map, so the statistics stay cheap.
OPPONENT = torch.tensor([[0.299, 0.587, 0.114], [-0.169, -0.331, 0.5], [0.5, -0.419, -0.081]])
STAT_CHANNELS = 6  # mean and standard deviation of each opponent channel
LOCAL_CHANNELS = 4  # per pixel: the change of chroma and of local contrast, signed and absolute
LOCAL_WINDOW = 5  # pixels: the side of the window local contrast is measured over


def token_statistics(image: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """``(B, 3, H, W)`` in [0, 1] -> ``(B, 6, h, w)``: per grid cell, the mean and standard deviation
    of each opponent channel."""
    x = torch.einsum("oc,bchw->bohw", OPPONENT.to(image), image)
    mean = F.adaptive_avg_pool2d(x, grid)
    var = (F.adaptive_avg_pool2d(x * x, grid) - mean * mean).clamp_min(0)
    return torch.cat([mean, (var + 1e-6).sqrt()], 1)


def local_statistics(image: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` in [0, 1] -> ``(B, 2, H, W)``: per pixel, the chroma (length of the two opponent
    chroma axes: what a fade takes away) and the luma's standard deviation over a
    :data:`LOCAL_WINDOW`-pixel window (local contrast: what a blur takes away)."""
    # E[x^2] - E[x]^2 of a smooth patch is far below bf16's resolution: float32 under any autocast.
    with torch.autocast(image.device.type, enabled=False):
        x = torch.einsum("oc,bchw->bohw", OPPONENT.to(image.device), image.float())
        chroma = x[:, 1:].square().sum(1, keepdim=True).add(1e-6).sqrt()
        luma = x[:, :1]

        def local_mean(t: torch.Tensor) -> torch.Tensor:
            return F.avg_pool2d(t, LOCAL_WINDOW, stride=1, padding=LOCAL_WINDOW // 2, count_include_pad=False)

        mean = local_mean(luma)
        var = (local_mean(luma * luma) - mean * mean).clamp_min(0)
        return torch.cat([chroma, (var + 1e-6).sqrt()], 1).to(image.dtype)


def local_statistics_change(original: torch.Tensor, edited: torch.Tensor) -> torch.Tensor:
    """Both images ``(B, 3, H, W)`` in [0, 1] -> ``(B, LOCAL_CHANNELS, H, W)``: ``[d, |d|]`` with ``d``
    the :func:`local_statistics` of the edited image minus the original's, scaled as the token
    statistics are (a 0.1 change is of order one)."""
    delta = (local_statistics(edited) - local_statistics(original)) * 10
    return torch.cat([delta, delta.abs()], 1)


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
