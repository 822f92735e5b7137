"""Action-conditioned intent map and its encoder ``E_i``."""

from __future__ import annotations

import torch
from torch import nn

from sigma.model.blocks import map_to_tokens, sincos_positions


def intent_map(
    action: str | None, a_o: torch.Tensor | None, a_e: torch.Tensor | None, eps: float, grid: tuple[int, int]
) -> torch.Tensor:
    """The spatial prior of one pair from its grounded concepts (sigma-method.md, step 2).

    ``a_o``/``a_e``: ``(h, w)`` in [0, 1], or ``None`` when the concept is empty or was not found
    (then the uniform ``eps``). add -> ``A_e``; remove -> ``A_o``; replace / attribute_change ->
    ``A_o * A_e``, or the one found when the other was not (our choice: the paper's product with
    ``eps`` would erase a found object whenever "a dark dog" is not detected); global -> the whole
    image (the truth of a global edit is the whole image); move -> ``max(A_o, A_e)``, where the object
    was and where it is now; no action -> ``eps`` everywhere.
    Returns ``(h, w)`` = ``grid``.
    """
    uniform = torch.full(grid, eps)
    if action == "global":
        return torch.ones(grid)
    if action in ("replace", "attribute_change") and (a_o is None) != (a_e is None):
        found = a_o if a_e is None else a_e
        assert found is not None  # exactly one of the two is None
        return found
    a_o = uniform if a_o is None else a_o
    a_e = uniform if a_e is None else a_e
    if action == "add":
        return a_e
    if action == "remove":
        return a_o
    if action in ("replace", "attribute_change"):
        return a_o * a_e
    if action == "move":
        return torch.maximum(a_o, a_e)
    return uniform


class IntentEncoder(nn.Module):
    """1x1 conv + ReLU of the intent map: ``(B, 1, h, w) -> E_i (B, h*w, dim)``, plus the same
    fixed position code as ``E_v`` so that BCMR can match locations across the two."""

    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(1, dim, 1)

    def forward(self, intent: torch.Tensor) -> torch.Tensor:
        tokens = map_to_tokens(torch.relu(self.proj(intent)))
        return tokens + sincos_positions(
            (intent.shape[-2], intent.shape[-1]), tokens.shape[-1], tokens.device, tokens.dtype
        )
