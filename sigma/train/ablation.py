"""The ablation variants (``ablation.variants`` with ``model`` overrides): each is trained like
Stage I, with the same data and ``stage1`` params, into ``ablation.out/NAME``."""

from __future__ import annotations

from pathlib import Path

from sigma.config import Params, with_overrides
from sigma.train.stage1 import train_stage1


def train_ablation(params: Params, names: list[str] | None = None, track: bool = True) -> dict:
    """Train the variants named (default: every one with model overrides); returns their checkpoints."""
    trained = {}
    for variant in params.ablation.variants:
        if variant.model is None or (names and variant.name not in names):
            continue
        checkpoint = params.ablation.checkpoint_of(variant)
        out = Path(checkpoint).parent
        variant_params = params.model_copy(
            update={
                "model": with_overrides(params.model, variant.model),
                "stage1": params.stage1.model_copy(update={"out": str(out)}),
            }
        )
        train_stage1(variant_params, track=track, score=False)  # the ablation stage scores it
        trained[variant.name] = checkpoint
    return trained
