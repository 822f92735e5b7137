"""Segmentation losses shared by the training stages."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Soft Dice per sample, averaged: ``logits``/``target`` ``(B, 1, H, W)``, target in [0, 1]."""
    prob = torch.sigmoid(logits).flatten(1)
    target = target.flatten(1)
    inter = (prob * target).sum(1)
    return (1 - (2 * inter + eps) / (prob.sum(1) + target.sum(1) + eps)).mean()


def seg_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``L_seg = BCE + Dice`` (sigma-method.md, Stage I)."""
    return F.binary_cross_entropy_with_logits(logits, target) + dice_loss(logits, target)


def attribution_loss(
    logits: torch.Tensor, mask: torch.Tensor, side_effect: torch.Tensor, known: torch.Tensor
) -> torch.Tensor:
    """Class-balanced BCE of the attribution channel inside the edit: 1 = intended, 0 = side-effect.

    ``logits``/``mask``/``side_effect`` ``(B, 1, H, W)``, ``known`` ``(B,)`` bool: pairs whose
    split is unknown (real benchmarks) and pixels outside the edit do not count. The batch's
    side-effect pixels weigh as much in total as its intended ones: they are a few percent of the
    edited pixels, and an unweighted channel learns to call every pixel intended.
    """
    weight = mask * known.to(mask.dtype)[:, None, None, None]
    if not weight.any():
        return logits.sum() * 0  # keeps the graph (and DDP) intact when nothing is supervised
    side = weight * side_effect
    intended = weight - side
    if side.any() and intended.any():
        weight = intended / intended.sum() + side / side.sum()
    target = mask * (1 - side_effect)
    per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (per_pixel * weight).sum() / weight.sum()
