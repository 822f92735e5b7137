"""Pair geometry: fit a pair into the model's square input without distorting it, and map
maps on that input back onto the pair."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sigma.data.dataset import resize_image


def fitted_size(size: tuple[int, int], side: int) -> tuple[int, int]:
    """``(H, W)`` scaled so that the longer side is ``side`` (aspect kept, at least 1 px)."""
    h, w = size
    scale = side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def capped_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """``(H, W)`` itself, or scaled down so that its longer side is ``max_side``."""
    return (size[0], size[1]) if max(size) <= max_side else fitted_size(size, max_side)


def canvas_size(size: tuple[int, int], side: int, multiple: int | None = None) -> tuple[int, int]:
    """The canvas an ``(H, W)`` image is letterboxed onto: ``side`` square, or with ``multiple``
    its :func:`fitted_size` rounded up to that multiple (a backbone that takes any such size spends
    nothing on padding: a 4:3 pair runs on a quarter fewer pixels)."""
    if not multiple:
        return side, side
    h, w = fitted_size(size, side)
    return min(side, -(-h // multiple) * multiple), min(side, -(-w // multiple) * multiple)


def letterbox(
    images: list[torch.Tensor], side: int, multiple: int | None = None
) -> tuple[torch.Tensor, list[tuple[float, float]]]:
    """``(3, H, W)`` images of any sizes (float in [0, 1] or uint8) -> one float ``(B, 3, h, w)``
    batch, each image scaled so its longer side is ``side`` (antialiased bilinear) and zero-padded at
    the bottom and right onto the largest of their :func:`canvas_size`.

    Returns the batch and, per image, the share ``(h_i / h, w_i / w)`` of the canvas it covers.
    """
    sizes = [fitted_size((image.shape[-2], image.shape[-1]), side) for image in images]
    canvases = [canvas_size((image.shape[-2], image.shape[-1]), side, multiple) for image in images]
    canvas_hw = max(c[0] for c in canvases), max(c[1] for c in canvases)
    dtype = torch.float32 if images[0].dtype == torch.uint8 else images[0].dtype
    canvas = images[0].new_zeros(len(images), images[0].shape[0], *canvas_hw, dtype=dtype)
    for i, (image, (h, w)) in enumerate(zip(images, sizes, strict=True)):
        canvas[i, :, :h, :w] = resize_image(image, (h, w))[0]
    return canvas, [(h / canvas_hw[0], w / canvas_hw[1]) for h, w in sizes]


def crop_resize(x: torch.Tensor, covered: tuple[float, float], size: tuple[int, int]) -> torch.Tensor:
    """The top-left ``covered`` share of ``(B, C, h, w)`` maps, bilinearly resampled to ``size``:
    one resampling from the canvas grid straight to the pair's pixels (pixel centres aligned)."""
    if covered == (1.0, 1.0):
        return (
            x
            if tuple(x.shape[-2:]) == tuple(size)
            else F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        )
    (fy, fx), (h, w) = covered, size

    def axis(n_out: int, share: float, n_in: int) -> torch.Tensor:
        # Output pixel centres in input pixel-centre coordinates, kept inside the covered share so
        # that the padding beyond it never bleeds into the edge pixels; then grid_sample's [-1, 1].
        extent = share * n_in
        centres = (torch.arange(n_out, device=x.device, dtype=x.dtype) + 0.5) / n_out * extent - 0.5
        centres = centres.clamp(0, max(0.0, extent - 1))
        return (centres + 0.5) / n_in * 2 - 1

    grid = torch.stack(torch.meshgrid(axis(w, fx, x.shape[-1]), axis(h, fy, x.shape[-2]), indexing="xy"), -1)
    return F.grid_sample(
        x, grid.expand(x.shape[0], h, w, 2), mode="bilinear", padding_mode="border", align_corners=False
    )
