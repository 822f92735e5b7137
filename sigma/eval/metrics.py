"""Pixel metrics (IMDL-BenCo conventions): per-image F1/IoU averaged, pooled F1/IoU, false positives."""

from __future__ import annotations

import numpy as np


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


def summarise(preds: list[np.ndarray], gts: list[np.ndarray]) -> dict[str, float]:
    """Per-image F1/IoU averaged over manipulated images (non-empty truth), dataset-pooled F1/IoU,
    and for all-zero truths (calibration pairs, reported separately) the false-positive pixel rate
    and the share of images predicted perfectly empty."""
    per_image, pooled, clean_fp, clean_empty, clean_pixels = [], np.zeros(3), 0, 0, 0
    for pred, gt in zip(preds, gts, strict=True):
        tp, fp, fn, _ = mask_counts(pred, gt)
        if gt.any():
            per_image.append(f1_iou(tp, fp, fn))
            pooled += (tp, fp, fn)
        else:
            clean_fp += fp
            clean_pixels += gt.size
            clean_empty += int(fp == 0)
    out: dict[str, float] = {"n_manipulated": len(per_image), "n_clean": len(preds) - len(per_image)}
    if per_image:
        f1s, ious = zip(*per_image, strict=True)
        out |= {"f1": float(np.mean(f1s)), "iou": float(np.mean(ious))}
        out |= dict(zip(("f1_pooled", "iou_pooled"), f1_iou(*pooled.astype(int)), strict=True))
    if clean_pixels:
        out |= {"clean_fp_rate": clean_fp / clean_pixels, "clean_empty_share": clean_empty / out["n_clean"]}
    return out
