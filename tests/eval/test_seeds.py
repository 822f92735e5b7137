"""Seed-averaged comparison: means, spreads and where a lead holds beyond them."""

import pytest

from sigma.eval.seeds import compare, seed_scores


def _m(f1, n=10, **groups):
    return {"f1": f1, "n_manipulated": n, "groups": {g: {"f1": v, "n_manipulated": n // 2} for g, v in groups.items()}}


BY_METHOD = {
    "sigma@s0": _m(0.90, **{"kind/removal": 0.95, "kind/copy-move": 0.70}),
    "sigma@s1": _m(0.88, **{"kind/removal": 0.93, "kind/copy-move": 0.80}),
    "cd@s0": _m(0.85, **{"kind/removal": 0.90, "kind/copy-move": 0.74}),
    "cd@s1": _m(0.86, **{"kind/removal": 0.91, "kind/copy-move": 0.76, "kind/only-here": 0.5}),
}


def test_seed_scores_are_the_mean_and_range_over_the_seeds_per_group():
    scores = seed_scores(BY_METHOD, ["sigma@s0", "sigma@s1"])
    assert scores["all"].mean == pytest.approx(89.0) and scores["all"].spread == pytest.approx(2.0)
    assert scores["kind/copy-move"].mean == pytest.approx(75.0) and scores["kind/copy-move"].spread == pytest.approx(
        10.0
    )
    assert scores["all"].seeds == 2 and scores["kind/removal"].n == 5
    assert "kind/only-here" not in seed_scores(BY_METHOD, ["cd@s0", "cd@s1"])  # one seed lacks it


def test_a_lead_is_marked_only_where_it_exceeds_both_spreads():
    frame = compare(BY_METHOD, {"SIGMA": ["sigma@s0", "sigma@s1"], "CD": ["cd@s0", "cd@s1"]}, lead=("SIGMA", "CD"))
    assert frame.loc["all", "SIGMA - CD"] == "+3.50*"  # 3.5 beyond spreads of 2 and 1
    assert frame.loc["kind/copy-move", "SIGMA - CD"] == "+0.00"  # 75 vs 75, spreads 10 and 2
    assert frame.loc["kind/removal", "SIGMA"] == "94.00 (2.00)"


def test_one_seed_marks_no_lead():
    frame = compare(BY_METHOD, {"SIGMA": ["sigma@s0"], "CD": ["cd@s0"]}, lead=("SIGMA", "CD"))
    assert frame.loc["all", "SIGMA - CD"] == "+5.00" and frame.loc["all", "SIGMA"] == "90.00"
