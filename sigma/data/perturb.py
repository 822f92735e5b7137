"""Diffusion-like perturbation: every pixel of an edited image drifts a little, as it does after a
diffusion editor's VAE round trip, so that pixel differencing stops being trivially right while
the semantic mask stays exact."""

from __future__ import annotations

import cv2
import numpy as np

from sigma.config import PerturbParams


def perturb(image: np.ndarray, strength: float, rng: np.random.Generator, params: PerturbParams,
            vae=None) -> np.ndarray:
    """A VAE round trip (when ``vae`` is given), then resample, colour drift, Gaussian noise and
    JPEG at ``strength`` in [0, 1].

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        vae: a diffusers ``AutoencoderKL`` (``params.vae`` loaded), or ``None``.
    Returns:
        ``(H, W, 3)`` uint8 RGB of the same size; ``image`` itself when ``strength == 0`` and no VAE.
    """
    if vae is not None:
        from sigma.data.vae import round_trip_image

        image = round_trip_image(vae, image, float(rng.uniform(0, params.vae_sigma_max)), int(rng.integers(2**31)))
    if strength <= 0:
        return image
    h, w = image.shape[:2]
    out = image.astype(np.float32)
    gain = 1 + rng.uniform(-1, 1, 3) * params.max_colour_drift * strength
    offset = rng.uniform(-1, 1, 3) * params.max_colour_drift * strength * 128
    out = out * gain + offset
    scale = 1 - params.max_resample * strength * rng.uniform(0.5, 1)
    small = cv2.resize(out, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    out += rng.normal(0, params.max_noise_sigma * strength, out.shape)
    out = out.clip(0, 255).round().astype(np.uint8)
    quality = int(round(100 - (100 - params.min_jpeg_quality) * strength))
    ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
