"""The attribution threshold: which changed regions are side effects (``model.intended_threshold``, a
share of the best-covered region's instruction prior), picked on validation pairs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from sigma.data.dataset import load_pair_arrays
from sigma.data.pairs import read_manifest
from sigma.eval.metrics import SplitScores
from sigma.model.annotation import region_shares
from sigma.model.sigma import SigmaAnnotator


def split_objective(summary: dict[str, float]) -> float:
    """What a threshold is picked for: side-effect F1 on the pairs that have one plus intended F1 on
    every pair with a known split (which falls when intended regions are called side effects)."""
    return summary.get("side_f1", 0.0) + summary.get("intended_f1", 0.0)


def sweep_intended_threshold(
    model: SigmaAnnotator, datasets: Sequence[str], candidates: Sequence[float], split: str = "val", batch_size: int = 8
) -> dict[float, dict[str, float]]:
    """:class:`SplitScores` of each candidate ``intended_threshold`` on the ``split`` pairs of
    ``datasets`` that carry a mask; the model runs once per pair, the candidates reuse its regions."""
    pairs = [p for d in datasets for p in read_manifest(d) if p.mask and p.split == split]
    scores = {t: SplitScores() for t in candidates}
    arrays = (load_pair_arrays(p) for p in pairs)
    # Kept alongside the lazily decoded triples: the truth of each pair, in order.
    truths: list[tuple[np.ndarray, np.ndarray | None]] = []

    def triples():
        for pair, a in zip(pairs, arrays, strict=True):
            truths.append((a["mask"], a["side_effect"]))
            yield a["original"], a["edited"], pair.instruction

    min_share = model.config.postprocess.min_region
    with torch.inference_mode():
        for i, (logits, intent, parsed) in enumerate(model.iter_outputs(triples(), batch_size)):
            truth, truth_side = truths[i]
            mask = torch.sigmoid(logits[0].float()).cpu().numpy() > model.config.threshold
            known = model.prior.unknown_split_reason(parsed, intent) is None
            labels, share = region_shares(mask, intent.float().cpu().numpy(), min_share)
            for t, split_scores in scores.items():
                split_scores.add(mask, (share <= t)[labels] if known else None, truth, truth_side)
    return {t: s.summary() for t, s in scores.items()}


def pick_intended_threshold(sweep: dict[float, dict[str, float]], default: float) -> float:
    """The candidate with the best :func:`split_objective`; ``default`` when the pairs held no side
    effect with a known split (nothing to pick on)."""
    usable = {t: s for t, s in sweep.items() if s.get("n_side_effect_known")}
    return max(usable, key=lambda t: split_objective(usable[t])) if usable else default
