"""Pixel metrics (IMDL-BenCo conventions): per-image F1/IoU averaged over manipulated images,
pooled F1/IoU, pixel AUC, boundary F1, and false positives on all-zero truths reported separately."""

from __future__ import annotations

import cv2
import numpy as np

AUC_BINS = 1000  # scores are quantised to 1/1000: AUC stays streaming (two histograms) and exact at that grain
BOUNDARY_TOLERANCE = 2  # px: the BF score's match distance (Csurka et al. 2013)

_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))  # 4-neighbourhood


def mask_counts(pred: np.ndarray, gt: np.ndarray) -> tuple[int, int, int, int]:
    """``(tp, fp, fn, tn)`` of two ``(H, W)`` bool masks."""
    pred, gt = pred.astype(bool), gt.astype(bool)
    tp = int((pred & gt).sum())
    fp = int((pred & ~gt).sum())
    fn = int((~pred & gt).sum())
    return tp, fp, fn, pred.size - tp - fp - fn


def f1_iou(tp: int, fp: int, fn: int) -> tuple[float, float]:
    """F1 and IoU; an empty prediction of an empty truth is perfect (1, 1)."""
    if tp + fp + fn == 0:
        return 1.0, 1.0
    return 2 * tp / (2 * tp + fp + fn), tp / (tp + fp + fn)


def mask_boundary(mask: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: the pixels of ``mask`` with a 4-neighbour outside it.

    The image border is padded with ones so that a mask touching it gets no boundary there (an
    all-ones mask has none): the frame edge is no edge of the edit."""
    mask = mask.astype(np.uint8)
    inner = cv2.erode(mask, _CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=1)
    boundary: np.ndarray = (mask > 0) & (inner == 0)
    return boundary


def _matched_share(boundary: np.ndarray, other: np.ndarray, tolerance: float) -> float:
    """Share of ``boundary`` pixels within ``tolerance`` px (Euclidean) of an ``other`` pixel; both
    ``(H, W)`` bool, ``other`` non-empty."""
    # distanceTransform measures the distance to the nearest zero: zero exactly at the other boundary
    distance = cv2.distanceTransform((~other).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return float((distance[boundary] <= tolerance).mean())


def boundary_f1(pred: np.ndarray, gt: np.ndarray, tolerance: float = BOUNDARY_TOLERANCE) -> float:
    """Boundary F1 (BF score) of two ``(H, W)`` bool masks: the harmonic mean of the share of predicted
    boundary pixels within ``tolerance`` px of a truth boundary pixel (precision) and vice versa (recall).

    Both boundaries empty (both masks empty or full) is perfect (1.0); exactly one empty scores 0.0.
    """
    pred_edge, gt_edge = mask_boundary(pred), mask_boundary(gt)
    if not pred_edge.any() or not gt_edge.any():
        return float(pred_edge.any() == gt_edge.any())
    # every boundary pixel lies in the union's bounding box, so the distances there are exact; edits are small
    x, y, w, h = cv2.boundingRect((pred_edge | gt_edge).astype(np.uint8))
    pred_edge, gt_edge = pred_edge[y : y + h, x : x + w], gt_edge[y : y + h, x : x + w]
    precision = _matched_share(pred_edge, gt_edge, tolerance)
    recall = _matched_share(gt_edge, pred_edge, tolerance)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def auc_from_histograms(positives: np.ndarray, negatives: np.ndarray) -> float | None:
    """ROC AUC of scores binned into ascending bins (ties count one half); None without both classes."""
    n_pos, n_neg = positives.sum(), negatives.sum()
    if not n_pos or not n_neg:
        return None
    negatives_below = np.cumsum(negatives) - negatives
    return float((positives * (negatives_below + 0.5 * negatives)).sum() / (n_pos * n_neg))


class PixelScores:
    """Streaming accumulator over a benchmark: :meth:`add` one image at a time, :meth:`summary` at the end.

    Manipulated images (non-empty truth) give per-image F1/IoU and boundary F1 (averaged), pooled F1/IoU
    and, when scores are given, the pixel AUC pooled over their pixels; all-zero truths (calibration or
    authentic pairs) give the false-positive pixel rate and the share of images predicted perfectly empty.
    """

    def __init__(self) -> None:
        self.per_image: list[tuple[float, float]] = []
        self.bf1: list[float] = []
        self.pooled = np.zeros(3, np.int64)
        self.clean_fp = self.clean_pixels = self.clean_empty = self.n_clean = 0
        self.auc_pos = np.zeros(AUC_BINS + 1, np.int64)
        self.auc_neg = np.zeros(AUC_BINS + 1, np.int64)

    def add(self, pred: np.ndarray, gt: np.ndarray, score: np.ndarray | None = None) -> tuple[float, float] | None:
        """One image: ``pred``/``gt`` ``(H, W)`` bool, ``score`` ``(H, W)`` in [0, 1] (for the AUC).

        Returns the image's (F1, IoU), or None for an all-zero truth; its boundary F1 only enters the summary.
        """
        gt = gt.astype(bool)
        tp, fp, fn, _ = mask_counts(pred, gt)
        if not gt.any():
            self.n_clean += 1
            self.clean_fp += fp
            self.clean_pixels += gt.size
            self.clean_empty += int(fp == 0)
            return None
        result = f1_iou(tp, fp, fn)
        self.per_image.append(result)
        self.bf1.append(boundary_f1(pred, gt))
        self.pooled += (tp, fp, fn)
        if score is None:  # a bare mask has no ranking: no AUC
            return result
        bins = np.rint(np.clip(score, 0, 1) * AUC_BINS).astype(np.int64)
        self.auc_pos += np.bincount(bins[gt], minlength=AUC_BINS + 1)
        self.auc_neg += np.bincount(bins[~gt], minlength=AUC_BINS + 1)
        return result

    def summary(self) -> dict[str, float]:
        out: dict[str, float] = {"n_manipulated": len(self.per_image), "n_clean": self.n_clean}
        if self.per_image:
            f1s, ious = zip(*self.per_image, strict=True)
            out |= {"f1": float(np.mean(f1s)), "iou": float(np.mean(ious)), "bf1": float(np.mean(self.bf1))}
            # The benchmark's own noise: the standard error of the mean per-image F1 over its pairs.
            out["f1_se"] = float(np.std(f1s, ddof=1) / np.sqrt(len(f1s))) if len(f1s) > 1 else 0.0
            out |= dict(zip(("f1_pooled", "iou_pooled"), f1_iou(*map(int, self.pooled)), strict=True))
            auc = auc_from_histograms(self.auc_pos, self.auc_neg)
            if auc is not None:
                out["auc"] = auc
        if self.clean_pixels:
            out |= {
                "clean_fp_rate": self.clean_fp / self.clean_pixels,
                "clean_empty_share": self.clean_empty / self.n_clean,
            }
        return out


def summarise(
    preds: list[np.ndarray], gts: list[np.ndarray], scores: list[np.ndarray] | None = None
) -> dict[str, float]:
    """:class:`PixelScores` over lists of ``(H, W)`` masks (and optional score maps)."""
    acc = PixelScores()
    for i, (pred, gt) in enumerate(zip(preds, gts, strict=True)):
        acc.add(pred, gt, None if scores is None else scores[i])
    return acc.summary()


class SplitScores:
    """The intended / side-effect split of predicted masks, on a benchmark whose truth knows the part of
    each edit nobody asked for (synthetic pairs: ``side_effect_mask``; a pair without one has none).

    - ``split_known_share``: the manipulated pairs on which the method gave a split (SIGMA withholds it
      where its grounded instruction prior would be a guess:
      :meth:`sigma.model.prior.IntentPrior.unknown_split_reason`);
    - intended: per-image F1/IoU of ``mask & ~side`` against ``truth & ~truth_side``, over the pairs
      with a known split and an intended part, beside ``known_mask_f1``, the whole ``mask``'s F1 against
      ``truth`` over the same pairs: read side by side, they show what the split adds to the mask's own
      errors (the benchmark's mask F1 averages other pairs, global edits among them);
    - side effect: per-image F1/IoU of ``side`` against ``truth_side``, over the pairs with a known split
      that have one (``n_side_effect_known`` of the ``n_side_effect``);
    - side-effect false positives: predicted side-effect pixels as a share of the image, over the
      manipulated pairs with a known split and no side effect;
    - per pair, as a dataset builder filters on ``masks_side/``: of the pairs with a known split that
      got a side-effect mask, the share that have a side effect (``side_pair_precision``), and of those
      that have one, the share that got a mask (``side_pair_recall``).

    :meth:`summary` is empty until a pair with a side effect was added: a benchmark without any
    measures no split.
    """

    def __init__(self) -> None:
        self.intended, self.side, self.known_mask = PixelScores(), PixelScores(), PixelScores()
        self.side_fp = self.side_fp_pixels = 0
        self.known = self.unknown = self.with_side_effect = 0
        self.side_pairs = {"tp": 0, "fp": 0, "fn": 0}

    def add(self, mask: np.ndarray, side: np.ndarray | None, truth: np.ndarray, truth_side: np.ndarray | None) -> None:
        """One pair: ``mask``/``side``/``truth``/``truth_side`` ``(H, W)`` bool (``side`` within ``mask``,
        None where the method left the split unknown; ``truth_side`` within ``truth``, None: no side effect)."""
        truth = truth.astype(bool)
        truth_side = np.zeros_like(truth) if truth_side is None else truth_side.astype(bool) & truth
        if not truth.any():
            return
        self.with_side_effect += int(truth_side.any())
        if side is None:
            self.unknown += 1
            return
        self.known += 1
        side = side.astype(bool) & mask
        if (truth & ~truth_side).any():
            self.intended.add(mask & ~side, truth & ~truth_side)
            self.known_mask.add(mask, truth)
        found, present = bool(side.any()), bool(truth_side.any())
        if found or present:
            self.side_pairs["tp" if found and present else "fp" if found else "fn"] += 1
        if present:
            self.side.add(side, truth_side)
        else:
            self.side_fp += int(side.sum())
            self.side_fp_pixels += side.size

    def summary(self) -> dict[str, float]:
        if not self.with_side_effect:
            return {}
        out = {
            "split_known_share": self.known / (self.known + self.unknown),
            "n_side_effect": self.with_side_effect,
            "n_side_effect_known": len(self.side.per_image),
        }
        if self.intended.per_image:
            intended = self.intended.summary()
            out |= {"intended_f1": intended["f1"], "intended_iou": intended["iou"]}
            out["known_mask_f1"] = self.known_mask.summary()["f1"]
        if self.side.per_image:
            side = self.side.summary()
            out |= {"side_f1": side["f1"], "side_iou": side["iou"]}
        if self.side_fp_pixels:
            out["side_fp_rate"] = self.side_fp / self.side_fp_pixels
        tp, fp, fn = (self.side_pairs[k] for k in ("tp", "fp", "fn"))
        if tp + fp:
            out["side_pair_precision"] = tp / (tp + fp)
        if tp + fn:
            out["side_pair_recall"] = tp / (tp + fn)
        return out
