"""Semantic-difference branch: multi-scale difference block, refinement blocks, aggregation."""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from sigma.model.blocks import (
    Attention,
    FeedForward,
    feature_change,
    l2_normalize,
    map_to_tokens,
    sincos_positions,
    tokens_to_map,
)


def difference_terms(f_o: torch.Tensor, f_e: torch.Tensor) -> torch.Tensor:
    """``[|f_o - f_e|, f_o * f_e, f_o, f_e]`` of channel-L2-normalised maps: ``(B, C, h, w)`` -> ``(B, 4C, h, w)``."""
    f_o, f_e = l2_normalize(f_o), l2_normalize(f_e)
    return torch.cat([(f_o - f_e).abs(), f_o * f_e, f_o, f_e], dim=1)


class MultiScaleDifference(nn.Module):
    """MSDB: per level, difference terms -> 1x1 projection to ``dim``; plus a learned level code.

    Input: two lists of L maps ``(B, C_l, h, w)``; output ``(B, L, h*w, dim)`` tokens.
    """

    def __init__(self, in_channels: tuple[int, ...], dim: int):
        super().__init__()
        self.proj = nn.ModuleList(nn.Conv2d(4 * c, dim, 1) for c in in_channels)
        self.level_embed = nn.Parameter(torch.zeros(len(in_channels), dim))

    def forward(self, feats_o: list[torch.Tensor], feats_e: list[torch.Tensor]) -> torch.Tensor:
        hw = (feats_o[0].shape[-2], feats_o[0].shape[-1])
        pos = sincos_positions(hw, self.level_embed.shape[1], feats_o[0].device, feats_o[0].dtype)
        levels = [
            map_to_tokens(proj(difference_terms(f_o, f_e))) + pos + code
            for proj, f_o, f_e, code in zip(self.proj, feats_o, feats_e, self.level_embed, strict=True)
        ]
        return torch.stack(levels, dim=1)

    def change_vectors(self, feats_o: list[torch.Tensor], feats_e: list[torch.Tensor]) -> torch.Tensor:
        """The ``|f_o - f_e|`` part of each level's projection alone: ``(B, L, h*w, dim)``, the
        difference vectors that ``L_dis`` compares (free of ``f_o``, ``f_e`` and position codes)."""
        vectors = []
        for proj, f_o, f_e in zip(self.proj, feats_o, feats_e, strict=True):
            c = f_o.shape[1]
            vectors.append(map_to_tokens(F.conv2d(feature_change(f_o, f_e), cast(nn.Conv2d, proj).weight[:, :c])))
        return torch.stack(vectors, dim=1)


class AbsoluteDifference(nn.Module):
    """FC-Siam-diff's difference: per level ``|f_o - f_e|`` of channel-L2-normalised maps -> 1x1
    projection to ``dim``; no products, no raw features, no position or level codes.

    Input: two lists of L maps ``(B, C_l, h, w)``; output ``(B, L, h*w, dim)`` tokens.
    """

    def __init__(self, in_channels: tuple[int, ...], dim: int):
        super().__init__()
        self.proj = nn.ModuleList(nn.Conv2d(c, dim, 1) for c in in_channels)

    def forward(self, feats_o: list[torch.Tensor], feats_e: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(
            [
                map_to_tokens(proj(feature_change(f_o, f_e)))
                for proj, f_o, f_e in zip(self.proj, feats_o, feats_e, strict=True)
            ],
            dim=1,
        )

    def change_vectors(self, feats_o: list[torch.Tensor], feats_e: list[torch.Tensor]) -> torch.Tensor:
        """Every projection here is of ``|f_o - f_e|`` alone: the tokens themselves."""
        return self(feats_o, feats_e)


class DifferenceRefinementBlock(nn.Module):
    """DRB: self-attention within a level, cross-attention to the other levels, GELU FFN.

    ``(B, L, N, C) -> (B, L, N, C)``; weights are shared across levels (the level code of the MSDB
    tells them apart).
    """

    def __init__(self, dim: int, heads: int, ffn_ratio: float = 4.0):
        super().__init__()
        self.self_attn = Attention(dim, heads, cross=False)
        self.cross_attn = Attention(dim, heads)
        self.ffn = FeedForward(dim, ffn_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n_levels, n, c = x.shape
        flat = x.reshape(b * n_levels, n, c)
        flat = flat + self.self_attn(flat)
        x = flat.reshape(b, n_levels, n, c)
        if n_levels > 1:
            others = torch.stack(
                [torch.cat([x[:, j] for j in range(n_levels) if j != i], dim=1) for i in range(n_levels)], dim=1
            )
            flat = flat + self.cross_attn(flat, others.reshape(b * n_levels, (n_levels - 1) * n, c))
        flat = flat + self.ffn(flat)
        return flat.reshape(b, n_levels, n, c)


class LevelAggregator(nn.Module):
    """Channel concat of the L levels + 1x1 conv: ``(B, L, N, C) -> E_v (B, N, C)``."""

    def __init__(self, n_levels: int, dim: int):
        super().__init__()
        self.proj = nn.Linear(n_levels * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n_levels, n, c = x.shape
        return self.proj(x.permute(0, 2, 1, 3).reshape(b, n, n_levels * c))


class DifferenceBranch(nn.Module):
    """MSDB -> DRB x n -> aggregation. Returns refined levels ``(B, L, N, C)`` and ``E_v (B, N, C)``.

    ``kind="abs_diff"`` puts :class:`AbsoluteDifference` where the MSDB is (the change-detection
    baseline)."""

    def __init__(
        self,
        in_channels: tuple[int, ...],
        dim: int,
        heads: int,
        n_blocks: int = 2,
        ffn_ratio: float = 4.0,
        kind: str = "msdb",
    ):
        super().__init__()
        self.msdb: MultiScaleDifference | AbsoluteDifference = (
            AbsoluteDifference(in_channels, dim) if kind == "abs_diff" else MultiScaleDifference(in_channels, dim)
        )
        self.blocks = nn.ModuleList(DifferenceRefinementBlock(dim, heads, ffn_ratio) for _ in range(n_blocks))
        self.aggregate = LevelAggregator(len(in_channels), dim)

    def forward(
        self, feats_o: list[torch.Tensor], feats_e: list[torch.Tensor], extra: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``extra``: ``(B, N, C)`` change tokens of another source (pixel statistics), added to
        every level before the DRBs."""
        x = self.msdb(feats_o, feats_e)
        if extra is not None:
            x = x + extra[:, None]
        for block in self.blocks:
            x = block(x)
        return x, self.aggregate(x)


def levels_to_maps(levels: torch.Tensor, hw: tuple[int, int]) -> list[torch.Tensor]:
    """``(B, L, N, C)`` -> L maps ``(B, C, h, w)``."""
    return [tokens_to_map(levels[:, i], hw) for i in range(levels.shape[1])]
