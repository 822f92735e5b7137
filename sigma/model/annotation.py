"""What the annotator returns per pair, at the pair's original resolution, and the one rule that turns
the decoder's two channels into an edit mask and its side-effect part."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from sigma.model.parsing.base import ParsedInstruction


@dataclass
class Annotation:
    """``mask`` = ``intended | side_effect`` (disjoint), all ``(H, W)`` bool.

    ``score`` is the mean per-pixel confidence ``|2p - 1|`` of the edit probability (1: every pixel
    decided with certainty, 0: every pixel at 0.5), a filter for corpus building. ``split_unknown``
    says why the intended / side-effect split cannot hold (``IntentPrior.unknown_split_reason``); then
    ``side_effect`` is empty and ``intended`` is the whole mask, unattributed: read the reason first.
    """

    mask: np.ndarray
    intended: np.ndarray
    side_effect: np.ndarray
    score: float
    parsed: ParsedInstruction
    split_unknown: str | None = None

    @property
    def area(self) -> float:
        return float(self.mask.mean())


def region_means(mask: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The connected regions of ``mask`` ``(H, W)`` bool as labels ``(H, W)`` int (0: outside the mask)
    and the mean of ``prob`` ``(H, W)`` over each, ``(n_regions + 1,)`` (entry 0: +inf)."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    sums = np.bincount(labels.ravel(), weights=prob.astype(np.float64).ravel(), minlength=count)
    means = sums / np.maximum(np.bincount(labels.ravel(), minlength=count), 1)
    means[0] = np.inf  # never at or below a threshold: the unchanged background is no side effect
    return labels, means


def relative_intent(mask: np.ndarray, intent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The connected regions of ``mask`` ``(H, W)`` bool as labels ``(H, W)`` and each region's mean
    instruction prior (``intent`` ``(H, W)``) as a share of the highest region's, ``(n_regions + 1,)``
    (entry 0, the background: +inf)."""
    labels, means = region_means(mask, intent)
    if len(means) > 1:
        means[1:] = means[1:] / max(float(means[1:].max()), 1e-12)
    return labels, means


def region_shares(mask: np.ndarray, intent: np.ndarray, min_share: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """:func:`relative_intent`, with each region under ``min_share`` of the image given +inf: a speck is
    no side effect of its own at any threshold (it stays in the mask, intended)."""
    labels, share = relative_intent(mask, intent)
    if min_share > 0:
        share[np.bincount(labels.ravel(), minlength=len(share)) < min_share * mask.size] = np.inf
    return labels, share


def side_effect_regions(mask: np.ndarray, intent: np.ndarray, threshold: float, min_share: float = 0.0) -> np.ndarray:
    """The side-effect part ``(H, W)`` bool of an edit ``mask`` ``(H, W)`` bool: its connected regions
    of at least ``min_share`` of the image whose mean instruction prior (``intent`` ``(H, W)``, the
    grounded map of what the instruction names) is at most ``threshold`` times that of the region the
    prior covers most (:func:`region_shares`). Whole regions, not pixels: an unasked-for change is an
    object or a patch of its own. Relative, not absolute: a grounder's scores differ in scale from
    photo to photo, its ranking of the changed regions much less (docs/model.md, Attribution: measured
    against the decoder's attribution channel)."""
    labels, share = region_shares(mask, intent, min_share)
    side: np.ndarray = (share <= threshold)[labels]
    return side


def decide(
    logits: torch.Tensor,
    intent: torch.Tensor,
    threshold: float,
    intended_threshold: float,
    split: bool = True,
    min_side_share: float = 0.0,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Logits ``(2, H, W)`` (edit, attribution) and the intent map ``(H, W)`` -> the edit mask ``(H, W)``
    bool (edit probability above ``threshold``), its side-effect part (:func:`side_effect_regions`,
    regions of at least ``min_side_share`` of the image; None when ``split`` is False: the split is
    unknown) and the edit probability ``(H, W)`` float32."""
    edit_prob = torch.sigmoid(logits[0].float()).cpu().numpy()
    mask = edit_prob > threshold
    intent_map = intent.float().cpu().numpy()
    side = side_effect_regions(mask, intent_map, intended_threshold, min_side_share) if split else None
    return mask, side, edit_prob


def confidence(edit_prob: np.ndarray) -> float:
    """The mean per-pixel confidence ``|2p - 1|`` of an edit probability map."""
    return float(np.abs(2 * edit_prob - 1).mean())


def to_annotation(
    logits: torch.Tensor,
    intent: torch.Tensor,
    threshold: float,
    parsed: ParsedInstruction,
    intended_threshold: float = 0.5,
    split_unknown: str | None = None,
    min_side_share: float = 0.0,
) -> Annotation:
    """Logits ``(2, H, W)`` (edit, attribution) and the intent map ``(H, W)`` -> :class:`Annotation`;
    ``split_unknown``: why the split cannot hold (None: it can); ``min_side_share``: :func:`decide`."""
    mask, side, edit_prob = decide(logits, intent, threshold, intended_threshold, split_unknown is None, min_side_share)
    side = np.zeros_like(mask) if side is None else side
    return Annotation(mask, mask & ~side, side, confidence(edit_prob), parsed, split_unknown)
