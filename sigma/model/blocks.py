"""Reusable building blocks: attention, FFN, conv blocks, token/map reshapes, positions."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def map_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, h, w)`` -> ``(B, h*w, C)``."""
    return x.flatten(2).transpose(1, 2)


def tokens_to_map(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """``(B, h*w, C)`` -> ``(B, C, h, w)``."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], *hw)


def resample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize ``(B, C, h, w)`` maps: area-average when shrinking, bilinear when growing."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if x.shape[-2] >= size[0] and x.shape[-1] >= size[1]:
        return F.adaptive_avg_pool2d(x, size)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def l2_normalize(x: torch.Tensor, dim: int = 1, eps: float = 1e-12) -> torch.Tensor:
    """``x / max(||x||_2, eps)`` along ``dim``, as ``F.normalize``; written out because
    ``F.normalize`` over the channels of an NCHW map is ~30x slower on CPU (a strided norm)."""
    return x * torch.rsqrt(x.pow(2).sum(dim, keepdim=True).clamp_min(eps * eps))


def feature_change(f_o: torch.Tensor, f_e: torch.Tensor) -> torch.Tensor:
    """``|n(f_o) - n(f_e)|`` of two ``(B, C, h, w)`` maps, ``n`` the channel L2 normalisation."""
    return (l2_normalize(f_o) - l2_normalize(f_e)).abs()


def sincos_positions(hw: tuple[int, int], dim: int, device=None, dtype=None) -> torch.Tensor:
    """Fixed 2-D sine-cosine position code ``(h*w, dim)`` (MAE style); any grid, no parameters."""
    h, w = hw
    quarter = dim // 4
    omega = 1.0 / (10000 ** (torch.arange(quarter, device=device, dtype=torch.float32) / max(quarter, 1)))
    ys, xs = torch.meshgrid(
        torch.arange(h, device=device, dtype=torch.float32),
        torch.arange(w, device=device, dtype=torch.float32),
        indexing="ij",
    )
    parts = []
    for coord in (ys.reshape(-1), xs.reshape(-1)):
        angles = coord[:, None] * omega[None]
        parts += [angles.sin(), angles.cos()]
    pos = torch.cat(parts, dim=1)
    pos = F.pad(pos, (0, dim - pos.shape[1]))
    return pos.to(dtype) if dtype is not None else pos


class FeedForward(nn.Module):
    """Pre-norm GELU MLP ``(B, N, C) -> (B, N, C)`` (the residual is added by the caller)."""

    def __init__(self, dim: int, ratio: float = 4.0):
        super().__init__()
        hidden = max(1, int(dim * ratio))
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(self.norm(x))))


class Attention(nn.Module):
    """Pre-norm multi-head attention ``q (B, N, C)``, ``kv (B, M, C)`` -> ``(B, N, C)``.

    ``cross=False`` builds self-attention (call with ``kv=None``). Returns the update only;
    callers add the residual.
    """

    def __init__(self, dim: int, heads: int, cross: bool = True):
        super().__init__()
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim) if cross else None
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, q: torch.Tensor, kv: torch.Tensor | None = None) -> torch.Tensor:
        q_n = self.norm_q(q)
        kv_n = q_n if self.norm_kv is None else self.norm_kv(kv)
        return self.attn(q_n, kv_n, kv_n, need_weights=False)[0]


class ConvNormAct(nn.Sequential):
    """``Conv2d -> GroupNorm -> GELU`` (GroupNorm: batch-size independent, batch 1 at inference)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, dilation: int = 1):
        super().__init__(
            nn.Conv2d(cin, cout, kernel, padding=dilation * (kernel // 2), dilation=dilation, bias=False),
            nn.GroupNorm(math.gcd(8, cout), cout),
            nn.GELU(),
        )


class ResidualConvBlock(nn.Module):
    """Two 3x3 conv layers with an identity shortcut, ``(B, C, H, W) -> (B, C, H, W)``."""

    def __init__(self, dim: int):
        super().__init__()
        self.body = nn.Sequential(ConvNormAct(dim, dim), nn.Conv2d(dim, dim, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x + self.body(x))
