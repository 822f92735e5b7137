"""A second, finer pass over large pairs (beyond the paper).

The whole-pair pass letterboxes a pair onto the backbone's input (256 px offline, 518 in the paper):
a 1600-px photo shrinks six-fold, and an edit of a few thousand pixels to a few dozen, below what
the token grid resolves. Overlapping tiles of ``tiles.size`` pixels, each through the whole model
at its own input size, see such an edit at two or three times the scale. Their logits are averaged
where tiles overlap and replace the whole-pair pass's edit channel (``tiles.combine: tiles``), or
take the larger of the two (``max``: the whole pass's context, but its coarse blobs too).
"""

from __future__ import annotations

import math

import torch

from sigma.config import TileParams

Box = tuple[int, int, int, int]  # y0, y1, x0, x1


def axis_starts(length: int, size: int, overlap: int) -> list[int]:
    """Evenly spaced starts of tiles of ``size`` covering ``length`` with at least ``overlap`` shared."""
    if length <= size:
        return [0]
    n = math.ceil((length - overlap) / (size - overlap))
    return [round(i * (length - size) / (n - 1)) for i in range(n)]


def tile_boxes(shape: tuple[int, int], size: int, overlap: int) -> list[Box]:
    """Tiles ``(y0, y1, x0, x1)`` of one size (``size``, or the side itself when shorter) covering an
    ``(H, W)`` pair, row by row."""
    h, w = shape
    th, tw = min(size, h), min(size, w)
    return [(y, y + th, x, x + tw) for y in axis_starts(h, th, overlap) for x in axis_starts(w, tw, overlap)]


def needs_tiles(shape: tuple[int, int], cfg: TileParams) -> bool:
    return cfg.min_side is not None and max(shape) > cfg.min_side


def stitch(tile_logits: list[torch.Tensor], boxes: list[Box], shape: tuple[int, int]) -> torch.Tensor:
    """Tile logits ``(C, h, w)`` at their boxes -> ``(C, H, W)``, averaged where tiles overlap."""
    channels = tile_logits[0].shape[0]
    total = tile_logits[0].new_zeros(channels, *shape)
    count = tile_logits[0].new_zeros(1, *shape)
    for logits, (y0, y1, x0, x1) in zip(tile_logits, boxes, strict=True):
        total[:, y0:y1, x0:x1] += logits
        count[:, y0:y1, x0:x1] += 1
    return total / count


def combine(whole: torch.Tensor, tiled: torch.Tensor, how: str) -> torch.Tensor:
    """The edit channel (0) of the whole-pair and tiled logits ``(2, H, W)`` combined; the attribution
    channel (1) stays the whole pair's (it reads the instruction, which speaks of the whole image)."""
    edit = torch.maximum(whole[0], tiled[0]) if how == "max" else tiled[0]
    return torch.stack([edit, whole[1]])
