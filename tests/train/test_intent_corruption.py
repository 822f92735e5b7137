"""The intent prior is corrupted in training at the rates params.yaml sets."""

import numpy as np
import torch

from sigma.config import IntentCorruptionParams
from sigma.train.batches import corrupt_intent

EPS = 0.001


def blob_map() -> torch.Tensor:
    intent = torch.full((1, 16, 16), EPS)
    intent[:, 6:10, 6:10] = 1.0
    return intent


def test_each_corruption_happens_at_its_rate():
    rates = IntentCorruptionParams(drop=0.1, shift=0.3, dilate=0.5, false_blob=0.2)
    rng = np.random.default_rng(0)
    n = 3000
    counts = dict.fromkeys(("drop", "shift", "dilate", "false_blob"), 0)
    for _ in range(n):
        for name in corrupt_intent(blob_map(), rng, rates, EPS)[1]:
            counts[name] += 1
    assert abs(counts["drop"] / n - 0.1) < 0.02
    kept = n - counts["drop"]  # the others apply only to maps that were not dropped
    for name, rate in (("shift", 0.3), ("dilate", 0.5), ("false_blob", 0.2)):
        assert abs(counts[name] / kept - rate) < 0.03, name


def test_corruptions_do_what_they_say():
    rng = np.random.default_rng(1)
    intent = blob_map()
    dropped, _ = corrupt_intent(intent, rng, IntentCorruptionParams(drop=1.0), EPS)
    assert torch.equal(dropped, torch.full_like(intent, EPS))
    dilated, _ = corrupt_intent(intent, rng, IntentCorruptionParams(drop=0, shift=0, dilate=1, false_blob=0), EPS)
    assert (dilated > 0.5).sum() > (intent > 0.5).sum() and (dilated >= intent).all()
    shifted, applied = corrupt_intent(
        intent, np.random.default_rng(3), IntentCorruptionParams(drop=0, shift=1, dilate=0, false_blob=0), EPS
    )
    assert applied == ["shift"] and torch.equal(shifted.flatten().sort().values, intent.flatten().sort().values)
    blob, _ = corrupt_intent(intent, rng, IntentCorruptionParams(drop=0, shift=0, dilate=0, false_blob=1), EPS)
    assert (blob > 0.5).sum() > (intent > 0.5).sum()


def test_no_corruption_leaves_the_map_alone():
    intent = blob_map()
    out, applied = corrupt_intent(
        intent, np.random.default_rng(0), IntentCorruptionParams(drop=0, shift=0, dilate=0, false_blob=0), EPS
    )
    assert applied == [] and torch.equal(out, intent)
