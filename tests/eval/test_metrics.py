"""Pixel metrics on hand-made masks, with the values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from sigma.eval.metrics import PixelScores, auc_from_histograms, f1_iou, mask_counts, summarise


def _mask(rows: list[str]) -> np.ndarray:
    return np.array([[c == "#" for c in row] for row in rows])


TRUTH = _mask(["##..", "##..", "....", "...."])      # 4 pixels
PRED = _mask([".#..", "###.", "....", "...."])       # tp 3, fp 1, fn 1


def test_counts_f1_iou_by_hand():
    assert mask_counts(PRED, TRUTH) == (3, 1, 1, 11)
    f1, iou = f1_iou(3, 1, 1)
    assert f1 == pytest.approx(6 / 8) and iou == pytest.approx(3 / 5)


def test_empty_prediction_of_empty_truth_is_perfect_and_reported_separately():
    empty = np.zeros((4, 4), bool)
    assert f1_iou(*mask_counts(empty, empty)[:3]) == (1.0, 1.0)
    out = summarise([empty, PRED], [empty, TRUTH])
    assert out["n_clean"] == 1 and out["n_manipulated"] == 1
    assert out["clean_fp_rate"] == 0.0 and out["clean_empty_share"] == 1.0
    assert out["f1"] == pytest.approx(0.75)  # the clean pair does not enter the average


def test_all_ones_prediction():
    ones = np.ones((4, 4), bool)
    out = summarise([ones, ones], [TRUTH, np.zeros((4, 4), bool)])
    assert out["f1"] == pytest.approx(2 * 4 / (2 * 4 + 12))      # tp 4, fp 12, fn 0
    assert out["iou"] == pytest.approx(4 / 16)
    assert out["clean_fp_rate"] == 1.0 and out["clean_empty_share"] == 0.0


def test_empty_prediction_of_a_manipulated_image_scores_zero():
    out = summarise([np.zeros((4, 4), bool)], [TRUTH])
    assert out["f1"] == 0.0 and out["iou"] == 0.0


def test_per_image_average_differs_from_pooled():
    small_truth = _mask(["#...", "....", "....", "...."])
    out = summarise([PRED, np.zeros((4, 4), bool)], [TRUTH, small_truth])
    assert out["f1"] == pytest.approx((0.75 + 0.0) / 2)
    assert out["f1_pooled"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 2))   # tp 3, fp 1, fn 1+1


def test_pixel_auc_matches_sklearn_on_scores_at_the_bin_grain():
    rng = np.random.default_rng(0)
    truths = [rng.random((16, 16)) < 0.3 for _ in range(3)]
    scores = [np.round(np.clip(t * 0.3 + rng.random((16, 16)) * 0.7, 0, 1), 3) for t in truths]
    acc = PixelScores()
    for t, s in zip(truths, scores, strict=True):
        acc.add(s > 0.5, t, s)
    expected = roc_auc_score(np.concatenate([t.ravel() for t in truths]), np.concatenate([s.ravel() for s in scores]))
    assert acc.summary()["auc"] == pytest.approx(expected, abs=1e-9)


def test_auc_by_hand_with_ties():
    # positives at scores 0.8, 0.5; negatives at 0.5, 0.2: pairs (0.8>0.5) (0.8>0.2) (0.5=0.5 half) (0.5>0.2)
    pos, neg = np.zeros(1001, int), np.zeros(1001, int)
    pos[[800, 500]] = 1
    neg[[500, 200]] = 1
    assert auc_from_histograms(pos, neg) == pytest.approx(3.5 / 4)
    assert auc_from_histograms(pos, np.zeros(1001, int)) is None


def test_masks_without_scores_give_no_auc():
    assert "auc" not in summarise([PRED], [TRUTH])
