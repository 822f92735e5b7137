"""Bidirectional cross-modal refinement (BCMR) and the consensus map ``Z``."""

from __future__ import annotations

import torch
from torch import nn

from sigma.model.blocks import Attention


class CrossModalRound(nn.Module):
    """``E_v += Attn(q=E_v, kv=E_i)``, then ``E_i += Attn(q=E_i, kv=E_v)`` with the new ``E_v``."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.vision_from_intent = Attention(dim, heads)
        self.intent_from_vision = Attention(dim, heads)

    def forward(self, e_v: torch.Tensor, e_i: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        e_v = e_v + self.vision_from_intent(e_v, e_i)
        e_i = e_i + self.intent_from_vision(e_i, e_v)
        return e_v, e_i


class CrossModalRefinement(nn.Module):
    """K rounds of BCMR, then ``Z = Linear([E_v, E_i])`` (the 1x1 conv on tokens).

    ``E_v``, ``E_i``: ``(B, N, C)`` -> ``(E_v, E_i, Z)``, each ``(B, N, C)``.
    """

    def __init__(self, dim: int, heads: int, rounds: int = 2):
        super().__init__()
        self.rounds = nn.ModuleList(CrossModalRound(dim, heads) for _ in range(rounds))
        self.consensus = nn.Linear(2 * dim, dim)

    def forward(self, e_v: torch.Tensor, e_i: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        for block in self.rounds:
            e_v, e_i = block(e_v, e_i)
        return e_v, e_i, self.consensus(torch.cat([e_v, e_i], dim=-1))
