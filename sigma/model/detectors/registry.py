"""Detectors by name (``downstream.detectors[].name``). A builder takes ``input_size``, ``pretrained``
(False: no pretrained weights are read, as when a checkpoint holds them all) and its own arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sigma.model.detectors.base import Detector
from sigma.registry import Registry

DETECTORS: Registry[Callable[..., Detector]] = Registry("detector")
register_detector = DETECTORS.register


def build_detector(name: str, input_size: int, **kwargs: Any) -> Detector:
    """The detector registered as ``name`` at ``input_size`` pixels square (``kwargs``: its arguments)."""
    return DETECTORS.get(name)(input_size=input_size, **kwargs)


@register_detector("mobilenet_unet")
def _mobilenet_unet(**kwargs: Any) -> Detector:
    from sigma.model.detectors.mobilenet_unet import MobileNetUNet

    return MobileNetUNet(**kwargs)


@register_detector("srm_unet")
def _srm_unet(**kwargs: Any) -> Detector:
    from sigma.model.detectors.srm_unet import SrmUNet

    return SrmUNet(**kwargs)
