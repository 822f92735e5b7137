"""SIGMA checkpoints as evaluation methods: the full model, its feature-difference branch alone
(instruction branch off: uniform prior), its instruction prior alone (the intent map thresholded),
and the learned change-detection baseline (a Siamese network built from the same blocks, trained on
the same Stage I data: ``sigma train cd``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from sigma.config import ChangeDetectionParams
from sigma.eval.methods.base import Prediction, Triple, register_method
from sigma.model.annotation import decide
from sigma.model.sigma import SigmaAnnotator


class SigmaMethod:
    """``output``: ``edit`` (the model's edit probability) or ``intent`` (the grounded prior)."""

    def __init__(
        self,
        name: str,
        model: SigmaAnnotator,
        threshold: float = 0.5,
        batch_size: int = 8,
        use_instruction: bool = True,
        output: str = "edit",
    ):
        self.name, self.model, self.threshold, self.batch_size = name, model, threshold, batch_size
        self.use_instruction, self.output = use_instruction, output

    def predict(self, triples: Sequence[Triple]) -> list[Prediction]:
        out = []
        with torch.inference_mode():
            for logits, intent, parsed in self.model.iter_outputs(triples, self.batch_size, self.use_instruction):
                if self.output == "intent":
                    probs = intent.clamp(0, 1).float().cpu().numpy()
                    out.append(Prediction(probs > self.threshold, probs))
                    continue
                # The split needs the instruction: none without it (feature_diff, siamese_cd), as annotate's.
                unknown = self.model.prior.unknown_split_reason(parsed, intent) if self.use_instruction else None
                split = self.use_instruction and unknown is None
                config = self.model.config
                mask, side, probs = decide(
                    logits, intent, self.threshold, config.intended_threshold, split, config.postprocess.min_region
                )
                out.append(Prediction(mask, probs, side_effect=side, split_unknown=unknown))
        return out


def _builder(name: str, **kwargs):
    def build(model: str, threshold: float = 0.5, batch_size: int = 8) -> SigmaMethod:
        from sigma.model.pyfunc import load_annotator  # imports mlflow: only for the model-based methods

        return SigmaMethod(name, load_annotator(model), threshold, batch_size, **kwargs)

    return build


register_method("sigma", "SIGMA", needs_model=True)(_builder("sigma"))
register_method("feature_diff", "Feature-diff only", needs_model=True)(_builder("feature_diff", use_instruction=False))
register_method("instruction_only", "Instruction-only", needs_model=True)(_builder("instruction_only", output="intent"))
# Stands for the paper's learned change-detection rows (Meta-CD, DDPM-CD): no instruction at all.
register_method("siamese_cd", "Siamese-CD (FC-Siam-diff)", default_model=ChangeDetectionParams().checkpoint)(
    _builder("siamese_cd", use_instruction=False)
)
