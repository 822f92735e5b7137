"""Pixel metrics on hand-made masks, with the values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from sigma.eval.metrics import (
    BOUNDARY_TOLERANCE,
    PixelScores,
    SplitScores,
    auc_from_histograms,
    boundary_f1,
    f1_iou,
    mask_boundary,
    mask_counts,
    summarise,
)


def _mask(rows: list[str]) -> np.ndarray:
    return np.array([[c == "#" for c in row] for row in rows])


TRUTH = _mask(["##..", "##..", "....", "...."])  # 4 pixels
PRED = _mask([".#..", "###.", "....", "...."])  # tp 3, fp 1, fn 1


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
    assert out["f1"] == pytest.approx(2 * 4 / (2 * 4 + 12))  # tp 4, fp 12, fn 0
    assert out["iou"] == pytest.approx(4 / 16)
    assert out["clean_fp_rate"] == 1.0 and out["clean_empty_share"] == 0.0


def test_empty_prediction_of_a_manipulated_image_scores_zero():
    out = summarise([np.zeros((4, 4), bool)], [TRUTH])
    assert out["f1"] == 0.0 and out["iou"] == 0.0


def test_per_image_average_differs_from_pooled():
    small_truth = _mask(["#...", "....", "....", "...."])
    out = summarise([PRED, np.zeros((4, 4), bool)], [TRUTH, small_truth])
    assert out["f1"] == pytest.approx((0.75 + 0.0) / 2)
    assert out["f1_pooled"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 2))  # tp 3, fp 1, fn 1+1


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


def _square(top: int, left: int, side: int, shape: tuple[int, int] = (10, 16)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[top : top + side, left : left + side] = True
    return mask


def test_boundary_is_the_ring_and_the_image_border_is_no_boundary():
    assert mask_boundary(_square(2, 2, 4)).sum() == 12  # 4x4 square: 16 pixels less the 2x2 inside
    assert not mask_boundary(np.ones((4, 4), bool)).any()
    left_half = np.zeros((4, 4), bool)
    left_half[:, :2] = True  # touches three sides of the frame
    assert mask_boundary(left_half).tolist() == [[False, True, False, False]] * 4


def test_boundary_f1_identical_and_shifted_by_one_pixel():
    assert BOUNDARY_TOLERANCE == 2
    assert boundary_f1(TRUTH, TRUTH) == 1.0
    assert boundary_f1(_square(2, 3, 4), _square(2, 2, 4)) == 1.0  # every ring pixel 1 px from the other ring
    assert boundary_f1(_square(2, 3, 4), _square(2, 2, 4), tolerance=0) < 1.0


def test_boundary_f1_shifted_by_five_pixels_by_hand():
    # rings at columns 2..5 and 7..10: only the facing sides (columns 5 and 7, 4 pixels each of 12) are
    # within 2 px of the other ring; the top and bottom rows' nearest pixels are 3 px away or more
    assert boundary_f1(_square(2, 7, 4), _square(2, 2, 4)) == pytest.approx(1 / 3)


def test_boundary_f1_is_the_harmonic_mean_of_unequal_precision_and_recall():
    # a 2x2 prediction (all 4 pixels boundary) in the middle of a 6x6 truth ring (20 pixels): each predicted
    # pixel is 2 px from the ring (precision 1); on each side of the ring only the 2 middle pixels are within
    # 2 px of the prediction, the others sqrt(5) or more (recall 8/20)
    pred, truth = _square(3, 3, 2, (8, 8)), _square(1, 1, 6, (8, 8))
    assert boundary_f1(pred, truth) == pytest.approx(2 * 1 * 0.4 / (1 + 0.4))
    assert boundary_f1(truth, pred) == pytest.approx(4 / 7)


def test_boundary_f1_conventions_for_empty_boundaries():
    empty, ones = np.zeros((4, 4), bool), np.ones((4, 4), bool)
    assert boundary_f1(empty, TRUTH) == 0.0 and boundary_f1(TRUTH, empty) == 0.0
    assert boundary_f1(ones, ones) == 1.0 and boundary_f1(empty, empty) == 1.0
    assert boundary_f1(ones, TRUTH) == 0.0  # all-ones has no boundary to match


def test_summary_reports_the_mean_boundary_f1_over_manipulated_images():
    acc = PixelScores()
    assert acc.add(_square(2, 7, 4), _square(2, 2, 4)) == (0.0, 0.0)  # the return value is still (F1, IoU)
    acc.add(TRUTH, TRUTH)
    assert acc.add(np.ones((4, 4), bool), np.zeros((4, 4), bool)) is None  # clean: no boundary F1
    out = acc.summary()
    assert out["bf1"] == pytest.approx((1 / 3 + 1) / 2)
    assert out["f1"] == pytest.approx(0.5) and out["n_clean"] == 1
    assert "bf1" not in summarise([np.zeros((4, 4), bool)], [np.zeros((4, 4), bool)])


def test_per_pair_the_share_of_side_masks_that_are_right_and_of_side_effects_that_got_one():
    truth, side = _split_pair()
    none = np.zeros_like(side)
    scores = SplitScores()
    scores.add(truth, side, truth, side)  # a side mask where there is a side effect
    scores.add(truth, none, truth, side)  # none where there is one
    scores.add(truth, side, truth, None)  # one where there is none
    scores.add(truth, none, truth, None)  # none where there is none: in neither share
    scores.add(truth, None, truth, side)  # split unknown: in neither share
    summary = scores.summary()
    assert summary["side_pair_precision"] == summary["side_pair_recall"] == 0.5


def _split_pair():
    """A 10x10 truth: an intended block and a side-effect block."""
    truth, side = np.zeros((10, 10), bool), np.zeros((10, 10), bool)
    truth[1:4, 1:4] = True
    side[6:9, 6:9] = True
    return truth | side, side


def test_an_exact_split_scores_one_and_calling_everything_intended_finds_no_side_effect():
    truth, side = _split_pair()
    exact, all_intended = SplitScores(), SplitScores()
    exact.add(truth, side, truth, side)
    all_intended.add(truth, np.zeros_like(side), truth, side)
    assert exact.summary()["intended_f1"] == exact.summary()["side_f1"] == 1.0
    assert all_intended.summary()["side_f1"] == 0.0
    assert all_intended.summary()["intended_f1"] == pytest.approx(2 * 9 / (2 * 9 + 9))  # the side block as a FP
    # The whole mask is exact on the same pair: the gap to intended F1 is what the wrong split costs.
    assert all_intended.summary()["known_mask_f1"] == exact.summary()["known_mask_f1"] == 1.0


def test_side_effect_false_positives_count_on_pairs_without_one_and_no_side_effect_measures_no_split():
    truth, side = _split_pair()
    scores = SplitScores()
    scores.add(truth, np.zeros_like(side), truth, None)  # a pair without side effects, split right
    assert scores.summary() == {}  # no pair with a side effect yet: the benchmark measures no split
    scores.add(truth, side, truth, side)
    scores.add(truth, side, truth, None)  # 9 of 100 pixels called a side effect that is not there
    summary = scores.summary()
    assert summary["n_side_effect"] == 1
    assert summary["side_fp_rate"] == pytest.approx(9 / 200)
    assert summary["intended_f1"] == pytest.approx((1 + 1 + 2 * 9 / (2 * 9 + 9)) / 3)
    assert summary["split_known_share"] == 1.0


def test_a_pair_whose_split_the_method_left_unknown_counts_only_in_the_known_share():
    truth, side = _split_pair()
    scores = SplitScores()
    scores.add(truth, None, truth, side)  # the side effect is there, the method gave no split
    assert scores.summary() == {"split_known_share": 0.0, "n_side_effect": 1, "n_side_effect_known": 0}
    scores.add(truth, side, truth, side)
    summary = scores.summary()
    assert summary["split_known_share"] == 0.5 and summary["n_side_effect_known"] == 1
    assert summary["side_f1"] == summary["intended_f1"] == 1.0  # the unknown pair scores no split at all
