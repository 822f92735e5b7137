"""The pictures of a review page: thumbnails of a pair's images, the mask as a coloured layer, and the
mask overlaid on the edited image. Intended change is red, the side-effect part yellow."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from sigma.data import storage
from sigma.data.images import decode_image, decode_mask

INTENDED = (230, 40, 40)
SIDE_EFFECT = (250, 200, 0)
KINDS = ("original", "edited", "overlay", "layer")


def source_path(record: dict[str, Any], kind: str, out: str, root: str) -> str | None:
    """Where ``kind`` of ``record`` lies: corpus images resolve against ``root`` (the folder
    ``sigma annotate`` ran in), masks against OUT."""
    if kind in ("original", "edited"):
        return storage.join(root, record[kind])
    rel = record.get("mask" if kind == "mask" else "mask_side")
    return storage.join(out, rel) if rel else None


def mask_layer(record: dict[str, Any], out: str, root: str) -> np.ndarray:
    """RGBA ``(H, W, 4)`` uint8: intended change red, side effect yellow, the rest transparent."""
    mask_path = source_path(record, "mask", out, root)
    assert mask_path is not None  # every record has a mask
    mask = decode_mask(storage.read_bytes(mask_path))
    side_path = source_path(record, "mask_side", out, root)
    side = decode_mask(storage.read_bytes(side_path)) if side_path else np.zeros_like(mask)
    layer = np.zeros((*mask.shape, 4), np.uint8)
    layer[mask & ~side] = (*INTENDED, 255)
    layer[side] = (*SIDE_EFFECT, 255)
    return layer


def render(record: dict[str, Any], kind: str, out: str, root: str, max_side: int | None = None) -> bytes:
    """PNG bytes of ``kind`` (see ``KINDS``), shrunk to ``max_side`` when given."""
    if kind not in KINDS:
        raise ValueError(f"unknown picture {kind!r}: choose one of {list(KINDS)}")
    if kind == "layer":
        image = Image.fromarray(mask_layer(record, out, root), "RGBA")
    else:
        path = source_path(record, "edited" if kind == "overlay" else kind, out, root)
        assert path is not None
        image = Image.fromarray(decode_image(storage.read_bytes(path)))
        if kind == "overlay":
            layer = Image.fromarray(mask_layer(record, out, root), "RGBA")
            if layer.size != image.size:
                layer = layer.resize(image.size, Image.Resampling.NEAREST)
            alpha = layer.getchannel("A").point(lambda a: a * 45 // 100)  # 45 % opaque
            layer.putalpha(alpha)
            image = Image.alpha_composite(image.convert("RGBA"), layer)
    if max_side and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()
