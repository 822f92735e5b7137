"""Cross-fitted intent priors: each training pair grounded by a head that never saw its photo.

The learned grounder is trained on the training photos, so on them its maps are far better than on
the photos it meets at test. ``sigma train grounder`` with ``train_grounder.folds = n`` also trains
one head per fold without that fold's photos; the training stages (``<stage>.grounder_folds``)
then ground a pair from photo ``p`` with the head of ``fold_of(p, n)``.
"""

from __future__ import annotations

import copy
from pathlib import Path

from safetensors.torch import load_model

from sigma.data.synth import fold_of
from sigma.model.grounding.learned import LearnedGrounder, head_config
from sigma.model.prior import IntentPrior
from sigma.model.sigma import SigmaAnnotator

FOLD_KEY = "fold"  # in that config, a cross-fitted head's {"fold": k, "folds": n}


def fold_priors(model: SigmaAnnotator, folds_dir: str | Path) -> list[IntentPrior] | None:
    """One :class:`IntentPrior` per fold, sharing ``model``'s parser, backbone and text encoder;
    ``None`` when the model's grounder is not the learned one (nothing of it saw the photos)."""
    grounder = model.grounder
    if not isinstance(grounder, LearnedGrounder):
        return None
    files = sorted(Path(folds_dir).glob("fold*.safetensors"), key=lambda f: (len(f.name), f.name))
    hint = "run `dvc repro train_grounder` with train_grounder.folds >= 2, or set the stage's grounder_folds: null"
    if not files:
        raise FileNotFoundError(f"no cross-fitted grounder heads in {folds_dir}: {hint}")
    folds = []
    for file in files:
        folds.append(head_config(file).get(FOLD_KEY))
    n = len(files)
    if folds != [{"fold": k, "folds": n} for k in range(n)]:
        raise ValueError(f"{folds_dir} holds heads of another cross-fitting ({folds}): {hint}")
    priors = []
    for file in files:
        head = copy.deepcopy(grounder.head)
        load_model(head, str(file))
        fold_grounder = LearnedGrounder(
            grounder.backbone, grounder.text_encoder, head.eval(), grounder.threshold, grounder.vocabulary
        )
        priors.append(
            IntentPrior(model.prior.parser, fold_grounder, model.prior.eps, min_confidence=model.prior.min_confidence)
        )
    return priors


def prior_for(source: str | None, priors: list[IntentPrior] | None, default: IntentPrior) -> IntentPrior:
    """The prior that grounds a pair made from photo ``source``: its fold's head, or ``default``
    when there are no folds or the pair does not name its photo."""
    return priors[fold_of(source, len(priors))] if priors and source else default
