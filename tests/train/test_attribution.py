"""The attribution threshold picked on validation pairs (sigma/train/attribution.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sigma.data.dataset import load_pair_arrays
from sigma.data.pairs import read_manifest
from sigma.model.checkpoint import load_checkpoint
from sigma.model.sigma import SigmaAnnotator
from sigma.train.attribution import pick_intended_threshold, sweep_intended_threshold
from tests.annotate.outputs import truth_outputs

EDIT = "data/synth/edit"


def test_the_sweep_picks_a_threshold_between_the_side_effects_and_the_intended_regions(
    tiny_project, monkeypatch, tiny_checkpoint
):
    monkeypatch.chdir(tiny_project)
    pairs = [p for p in read_manifest(EDIT) if p.mask]
    truth = {}
    for pair in pairs:
        arrays = load_pair_arrays(pair)
        side = arrays["side_effect"] if arrays["side_effect"] is not None else np.zeros_like(arrays["mask"])
        truth[arrays["edited"].tobytes()] = (arrays["mask"], side)
    splits = {p.split for p in pairs if p.side_effect_mask}
    assert splits, "the tiny edit set has no side effect"
    split = sorted(splits)[0]
    # Side-effect regions hold 0.3 of the asked-for change's prior: any threshold from 0.3 splits them.
    monkeypatch.setattr(SigmaAnnotator, "iter_outputs", truth_outputs(truth, side_share=0.3))
    model = load_checkpoint(tiny_checkpoint)
    candidates = [0.1, 0.2, 0.3, 0.5, 0.6, 0.8, 0.9]
    sweep = sweep_intended_threshold(model, [EDIT], candidates, split=split)
    assert sorted(sweep) == candidates
    picked = pick_intended_threshold(sweep, default=0.5)
    assert picked >= 0.3
    assert sweep[picked]["side_f1"] == pytest.approx(1.0) and sweep[picked]["intended_f1"] == pytest.approx(1.0)
    assert sweep[0.2].get("side_f1", 0.0) == pytest.approx(0.0)  # below every side effect's share: none found


def test_with_no_side_effect_to_pick_on_the_default_stands():
    assert pick_intended_threshold({0.2: {}, 0.4: {"n_side_effect": 3, "n_side_effect_known": 0}}, 0.5) == 0.5
