"""Degradations of the edited image for the robustness sweep (sigma-method.md): JPEG re-encoding,
additive Gaussian noise and Gaussian blur, each at a strength from params."""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image

from sigma.config import RobustnessParams

Degradation = Callable[[np.ndarray], np.ndarray]


def jpeg(quality: int) -> Degradation:
    def apply(image: np.ndarray) -> np.ndarray:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality))
        return np.asarray(Image.open(buffer).convert("RGB"))

    return apply


def gaussian_noise(variance: float) -> Degradation:
    """Noise of ``variance`` on 0-255 values, seeded by the image content so reruns are identical."""

    def apply(image: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(zlib.crc32(image.tobytes()))
        noisy = image.astype(np.float32) + rng.normal(0, np.sqrt(variance), image.shape)
        return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)

    return apply


def gaussian_blur(kernel: int) -> Degradation:
    def apply(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (int(kernel), int(kernel)), 0)

    return apply


def sweep(params: RobustnessParams) -> list[tuple[str, float, Degradation]]:
    """``(perturbation, strength, degradation)`` for every configured point, clean first."""
    points: list[tuple[str, float, Degradation]] = [("none", 0.0, lambda image: image)]
    points += [("jpeg", q, jpeg(q)) for q in params.jpeg_quality]
    points += [("noise", v, gaussian_noise(v)) for v in params.noise_variance]
    points += [("blur", k, gaussian_blur(k)) for k in params.blur_kernel]
    return points
