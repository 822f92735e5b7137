"""Drift like a regenerating editor's: every pixel of an edited image moves a little, smoothly and
globally, while the semantic mask stays exact.

A diffusion editor re-renders the whole image: it is resampled (and slightly misregistered), its
tones and colours shift in smooth, low-frequency ways, it picks up noise, compression and
sharpening artefacts, and it goes through the VAE round trip. Each drifted pair draws its own
subset and amounts of these from ``(strength, rng)``, so the model sees a wide family rather than
one fixed chain, and learns that re-rendering is global and smooth whereas an edit is local and
follows an object's boundary. Strength 0 leaves the image untouched (unchanged pairs must stay
exactly unchanged).
"""

from __future__ import annotations

import cv2
import numpy as np

from sigma.config import PerturbParams

# Chance of each drift component on a drifted pair (the VAE's is ``PerturbParams.vae_prob``).
COMPONENT_PROB = {"resample": 0.7, "shift": 0.5, "tone": 0.8, "noise": 0.6, "sharpen": 0.3, "jpeg": 0.6}


def draw_strength(rng: np.random.Generator, params: PerturbParams) -> float:
    """Per-pair strength: 0 with probability ``none_prob``, else uniform in ``params.strength``."""
    if rng.random() < params.none_prob:
        return 0.0
    return float(rng.uniform(*params.strength))


def smooth_field(shape: tuple[int, int], cells: int, rng: np.random.Generator, channels: int = 3) -> np.ndarray:
    """A low-frequency random field in [-1, 1]: ``(cells, cells, channels)`` noise, bicubically
    upsampled to ``(H, W, channels)`` (no edge follows any object)."""
    coarse = rng.uniform(-1, 1, (cells, cells, channels)).astype(np.float32)
    return np.clip(cv2.resize(coarse, shape[::-1], interpolation=cv2.INTER_CUBIC), -1, 1).reshape(*shape, channels)


def tone_shift(image: np.ndarray, strength: float, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Global gain, offset and gamma per channel plus a smooth spatial gain field; float32 out."""
    h, w = image.shape[:2]
    x = image.astype(np.float32) / 255
    gamma = 1 + rng.uniform(-1, 1) * amount * strength * 2
    x = np.power(np.clip(x, 0, 1), gamma)
    gain = 1 + rng.uniform(-1, 1, 3) * amount * strength
    offset = rng.uniform(-1, 1, 3) * amount * strength * 0.5
    field = smooth_field((h, w), int(rng.integers(2, 5)), rng) * amount * strength
    return (x * gain * (1 + field) + offset) * 255


def resample(x: np.ndarray, strength: float, rng: np.random.Generator, max_resample: float) -> np.ndarray:
    """Down- then up-sample (the editor's working resolution differs from the image's)."""
    h, w = x.shape[:2]
    scale = 1 - max_resample * strength * rng.uniform(0.3, 1)
    small = cv2.resize(x, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def shift(x: np.ndarray, strength: float, rng: np.random.Generator, max_shift: float) -> np.ndarray:
    """Sub-pixel misregistration: a translation of up to ``max_shift * strength`` px, edges replicated."""
    dx, dy = rng.uniform(-1, 1, 2) * max_shift * strength
    matrix = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
    return cv2.warpAffine(x, matrix, x.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def sharpen(x: np.ndarray, strength: float, rng: np.random.Generator, max_sharpen: float) -> np.ndarray:
    """Unsharp masking, as decoders and upscalers leave it."""
    amount = max_sharpen * strength * rng.uniform(0.3, 1)
    blurred = cv2.GaussianBlur(x, (0, 0), sigmaX=float(rng.uniform(0.8, 1.6)))
    return x + amount * (x - blurred)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert decoded is not None  # decoding what cv2 has just encoded cannot fail
    return decoded[..., ::-1].copy()


def perturb(
    image: np.ndarray, strength: float, rng: np.random.Generator, params: PerturbParams, vae=None
) -> np.ndarray:
    """Regenerating-editor drift of ``image`` at ``strength`` in [0, 1] (see the module docstring).

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        rng: draws which components apply and their amounts (deterministic given its state).
        vae: a diffusers ``AutoencoderKL`` (``params.vae`` loaded) for the round trip, or ``None``.
    Returns:
        ``(H, W, 3)`` uint8 RGB of the same size; ``image`` itself when ``strength == 0``.
    """
    if strength <= 0:
        return image
    use = {name: rng.random() < p for name, p in COMPONENT_PROB.items()}
    if vae is not None and rng.random() < params.vae_prob:
        from sigma.data.vae import round_trip_image

        sigma = params.vae_sigma_max * strength * float(rng.uniform(0.3, 1))
        image = round_trip_image(vae, image, sigma, int(rng.integers(2**31)))
    x = tone_shift(image, strength, rng, params.max_colour_drift) if use["tone"] else image.astype(np.float32)
    if use["resample"]:
        x = resample(x, strength, rng, params.max_resample)
    if use["shift"]:
        x = shift(x, strength, rng, params.max_shift)
    if use["sharpen"]:
        x = sharpen(x, strength, rng, params.max_sharpen)
    if use["noise"]:
        x = x + rng.normal(0, params.max_noise_sigma * strength * rng.uniform(0.3, 1), x.shape)
    out = x.clip(0, 255).round().astype(np.uint8)
    if use["jpeg"]:
        out = jpeg(out, int(round(100 - (100 - params.min_jpeg_quality) * strength)))
    return out
