"""Decoding photos and masks into canonical arrays.

Every image enters the project through :func:`decode_image`: EXIF orientation applied, any mode
(RGBA, LA, P, grayscale, 16-bit, CMYK) converted to 8-bit RGB, and a pixel limit that turns
decompression bombs into an error instead of an out-of-memory kill.
"""

from __future__ import annotations

import io
import threading
import warnings
from contextlib import contextmanager

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 64_000_000


class ImageDecodeError(ValueError):
    """Bytes that are not a usable image (corrupt, truncated, too large, unknown format)."""


_LIMIT_LOCK = threading.Lock()


@contextmanager
def _pixel_limit(max_pixels: int):
    """Pillow's bomb limit is a module global: set it for one open, one thread at a time."""
    with _LIMIT_LOCK:
        old_limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = old_limit


def _open(data: bytes, max_pixels: int, what: str) -> Image.Image:
    if not data:
        raise ImageDecodeError(f"{what}: empty file (0 bytes)")
    try:
        with _pixel_limit(max_pixels), warnings.catch_warnings():
            # Pillow only warns between 1x and 2x the limit; we treat that as a bomb too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))  # the size check happens here, decoding below
        img.load()
        return img
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(f"{what}: larger than the {max_pixels}-pixel limit ({exc})") from None
    except UnidentifiedImageError:
        raise ImageDecodeError(f"{what}: not a recognised image format") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"{what}: corrupt or truncated image ({exc})") from None


def _high_bit_depth_to_8bit(img: Image.Image) -> Image.Image:
    arr = np.asarray(img)
    if img.mode == "F":
        lo, hi = float(arr.min()), float(arr.max())
        scaled = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
        return Image.fromarray((scaled * 255).round().astype(np.uint8))
    full_scale = 65535 if arr.max() > 255 or img.mode.startswith("I;16") else 255
    return Image.fromarray((arr.astype(np.float64) * 255 / full_scale).round().clip(0, 255).astype(np.uint8))


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB; transparency is composited over white."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        img = _high_bit_depth_to_8bit(img)
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa"):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(canvas, rgba)
    return img.convert("RGB")


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, what: str = "image") -> np.ndarray:
    """Bytes -> ``(H, W, 3)`` uint8 RGB array."""
    return np.array(to_rgb(_open(data, max_pixels, what)))  # writable, unlike np.asarray


def decode_mask(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, what: str = "mask") -> np.ndarray:
    """Bytes of a 0/255 PNG -> ``(H, W)`` bool array (any pixel > 127 is edited)."""
    img = ImageOps.exif_transpose(_open(data, max_pixels, what))
    if img.mode not in ("L", "1"):
        img = to_rgb(img).convert("L")
    return np.asarray(img.convert("L")) > 127


def image_size(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, what: str = "image") -> tuple[int, int]:
    """``(width, height)`` after EXIF orientation, decoding only the header."""
    try:
        with _pixel_limit(max_pixels):
            img = Image.open(io.BytesIO(data))
        w, h = img.size
        orientation = img.getexif().get(0x0112, 1)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageDecodeError(f"{what}: unreadable image header ({exc})") from None
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def encode_png(arr: np.ndarray) -> bytes:
    """``(H, W, 3)`` uint8 or ``(H, W)`` bool/uint8 -> PNG bytes (bool masks become 0/255)."""
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()
