"""Pixel-difference baselines (sigma-method.md, "Evaluation in the paper"): the maximum absolute
channel difference (0-255) thresholded at a fixed tau, with a morphological clean-up, or by Otsu."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from sigma.eval.methods.base import Prediction, Triple, register_method

FIXED_TAUS = (0, 10, 20, 30, 40)


def max_channel_difference(original: np.ndarray, edited: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 pair -> ``(H, W)`` uint8 max over channels of ``|original - edited|``."""
    return np.abs(original.astype(np.int16) - edited.astype(np.int16)).max(axis=-1).astype(np.uint8)


class PixDiff:
    """``diff > tau`` (``tau=None``: Otsu's threshold per image), then optionally a ``morph``x``morph``
    opening and closing that drop speckle and fill holes."""

    def __init__(self, name: str, tau: int | None, morph: int = 0):
        self.name, self.tau, self.morph = name, tau, morph

    def predict_one(self, original: np.ndarray, edited: np.ndarray) -> Prediction:
        diff = max_channel_difference(original, edited)
        if self.tau is None:
            _, mask = cv2.threshold(diff, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        else:
            mask = (diff > self.tau).astype(np.uint8)
        if self.morph:
            kernel = np.ones((self.morph, self.morph), np.uint8)
            mask = cv2.morphologyEx(cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE, kernel)
        return Prediction(mask.astype(bool), diff.astype(np.float32) / 255)

    def predict(self, triples: Sequence[Triple]) -> list[Prediction]:
        return [self.predict_one(original, edited) for original, edited, _ in triples]


for _tau in FIXED_TAUS:
    register_method(f"pixdiff_fixed_{_tau}", f"PixDiff-Fixed({_tau})")(
        lambda tau=_tau: PixDiff(f"pixdiff_fixed_{tau}", tau)
    )
register_method("pixdiff_morph", "PixDiff-Fixed-morph")(lambda: PixDiff("pixdiff_morph", 25, morph=5))
register_method("pixdiff_otsu", "PixDiff-Otsu")(lambda: PixDiff("pixdiff_otsu", None))
