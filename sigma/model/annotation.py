"""What the annotator returns per pair, at the pair's original resolution."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sigma.model.parsing.base import ParsedInstruction

INTENDED_THRESHOLD = 0.5  # attribution probability above which a changed pixel is intended, else a side effect


@dataclass
class Annotation:
    """``mask`` = ``intended | side_effect`` (disjoint), all ``(H, W)`` bool.

    ``score`` is the mean per-pixel confidence ``|2p - 1|`` of the edit probability (1: every pixel
    decided with certainty, 0: every pixel at 0.5), a filter for corpus building.
    """

    mask: np.ndarray
    intended: np.ndarray
    side_effect: np.ndarray
    score: float
    parsed: ParsedInstruction

    @property
    def area(self) -> float:
        return float(self.mask.mean())


def to_annotation(logits: torch.Tensor, threshold: float, parsed: ParsedInstruction) -> Annotation:
    """Logits ``(2, H, W)`` (edit, attribution) -> :class:`Annotation`."""
    edit_prob, intended_prob = torch.sigmoid(logits.float()).cpu()
    mask = (edit_prob > threshold).numpy()
    intended = mask & (intended_prob > INTENDED_THRESHOLD).numpy()
    score = float((2 * edit_prob - 1).abs().mean())
    return Annotation(mask, intended, mask & ~intended, score, parsed)
