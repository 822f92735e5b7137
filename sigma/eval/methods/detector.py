"""Trained IML detectors as evaluation methods (``detector@models/downstream/<detector>/<source>/seed0.safetensors``):
they see the edited image of each pair only, never the original or the instruction."""

from __future__ import annotations

from collections.abc import Sequence

from sigma.eval.methods.base import Prediction, Triple, register_method
from sigma.model.detectors import Detector, load_detector


class DetectorMethod:
    def __init__(self, name: str, model: Detector, threshold: float = 0.5, batch_size: int = 16):
        self.name, self.model, self.threshold, self.batch_size = name, model, threshold, batch_size

    def predict(self, triples: Sequence[Triple]) -> list[Prediction]:
        probs = self.model.predict([edited for _, edited, _ in triples], self.batch_size)
        return [Prediction(p > self.threshold, p) for p in probs]


@register_method("detector", "IML detector", needs_model=True)
def _detector(model: str, threshold: float = 0.5, batch_size: int = 16) -> DetectorMethod:
    return DetectorMethod(f"detector@{model}", load_detector(model), threshold, batch_size)
