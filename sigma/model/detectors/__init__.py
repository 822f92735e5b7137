"""Image manipulation localisation (IML) detectors: the edited image alone in, a mask out.

They are what an annotated corpus is for (the downstream experiment, ``sigma downstream``); unlike
the annotator they never see the original image or the instruction.
"""

from sigma.model.detectors.base import Detector
from sigma.model.detectors.checkpoint import load_detector, save_detector
from sigma.model.detectors.registry import DETECTORS, build_detector

__all__ = ["DETECTORS", "Detector", "build_detector", "load_detector", "save_detector"]
