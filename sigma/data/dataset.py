"""A torch ``Dataset`` over an edit-pair dataset (local folder or ``s3://``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from sigma.data import storage
from sigma.data.images import DEFAULT_MAX_PIXELS, ImageDecodeError, decode_image, decode_mask
from sigma.data.pairs import SYNTH_KINDS, EditPair, read_manifest


class PairError(ValueError):
    """A pair that cannot be used (missing/corrupt file, size mismatch); names the pair id."""

    def __init__(self, pair_id: str, reason: str):
        super().__init__(f"pair {pair_id!r}: {reason}")
        self.pair_id = pair_id
        self.reason = reason


def load_pair_arrays(pair: EditPair, max_pixels: int = DEFAULT_MAX_PIXELS) -> dict[str, Any]:
    """Decode one resolved pair -> ``original``/``edited`` ``(H, W, 3)`` uint8, ``mask`` and
    ``side_effect`` ``(H, W)`` bool or None.

    Raises:
        PairError: a file is missing, corrupt or too large, or the sizes disagree.
    """
    try:
        original = decode_image(storage.read_bytes(pair.original), max_pixels=max_pixels, what="original")
        edited = decode_image(storage.read_bytes(pair.edited), max_pixels=max_pixels, what="edited")
        masks = {
            key: decode_mask(storage.read_bytes(path), max_pixels=max_pixels, what=key.replace("_", "-"))
            if path
            else None
            for key, path in (("mask", pair.mask), ("side_effect", pair.side_effect_mask))
        }
    except (storage.StorageError, ImageDecodeError) as exc:
        raise PairError(pair.id, str(exc)) from None
    if original.shape != edited.shape:
        raise PairError(
            pair.id,
            f"size mismatch: original {original.shape[1]}x{original.shape[0]}, "
            f"edited {edited.shape[1]}x{edited.shape[0]}",
        )
    for key, mask in masks.items():
        if mask is not None and mask.shape != edited.shape[:2]:
            raise PairError(
                pair.id,
                f"size mismatch: {key} {mask.shape[1]}x{mask.shape[0]}, edited {edited.shape[1]}x{edited.shape[0]}",
            )
    return {"original": original, "edited": edited, **masks}


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(3, H, W)`` float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255)


def image_view(image: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 array -> a ``(3, H, W)`` uint8 view of it (no copy), for :func:`resize_image`."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)


def resize_image(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A ``(3, H, W)`` image, float in [0, 1] or uint8 (:func:`image_view`) -> ``(1, 3, *size)``
    float in [0, 1], antialiased bilinear. uint8 is resized as uint8 (torch's vectorised path, ~2x
    faster on a CPU than float) and converted after, on the smaller image."""
    if tuple(image.shape[-2:]) != tuple(size):
        image = F.interpolate(image[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    return (image.float().div_(255) if image.dtype == torch.uint8 else image)[None]


def resized(images: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
    """``(3, H, W)`` images (float in [0, 1] or uint8) of any sizes -> one ``(B, 3, *size)`` float
    batch (antialiased bilinear)."""
    return torch.cat([resize_image(im, size) for im in images])


def collate_pairs(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Batch items of one size: tensors stacked, everything else (ids, instructions, meta) as lists."""
    batch: dict[str, Any] = {k: [item[k] for item in items] for k in items[0]}
    for key in ("original", "edited", "mask", "side_effect"):
        batch[key] = torch.stack(batch[key])
    for key in ("has_mask", "knows_side_effect"):
        batch[key] = torch.tensor(batch[key])
    return batch


class EditPairDataset(Dataset):
    """Items are dicts: ``original``/``edited`` ``(3, H, W)`` float in [0, 1], ``mask`` ``(1, H, W)``
    float (zeros when the pair has none), ``has_mask``, ``side_effect`` ``(1, H, W)`` (the
    unintended part of ``mask``) with ``knows_side_effect`` (whether that split is known),
    ``instruction``, ``id``, ``edit_type`` and the pair's extra keys under ``meta``.

    Args:
        dataset: folder or ``manifest.jsonl`` URI (local or ``s3://``).
        split: keep only pairs of this split (``None`` keeps all).
        transform: applied to the item dict after decoding (e.g. synchronised crop/flip).
    """

    def __init__(
        self,
        dataset: str,
        split: str | None = None,
        transform: Callable[[dict], dict] | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ):
        self.pairs = [p for p in read_manifest(dataset) if split is None or p.split == split]
        self.transform = transform
        self.max_pixels = max_pixels

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        pair = self.pairs[index]
        arrays = load_pair_arrays(pair, self.max_pixels)
        h, w = arrays["edited"].shape[:2]
        mask, side = arrays["mask"], arrays["side_effect"]
        zeros = torch.zeros(1, h, w)
        item = {
            "id": pair.id,
            "original": to_tensor(arrays["original"]),
            "edited": to_tensor(arrays["edited"]),
            "mask": torch.from_numpy(mask).float()[None] if mask is not None else zeros,
            "has_mask": mask is not None,
            "side_effect": torch.from_numpy(side).float()[None] if side is not None else zeros,
            # Synthetic pairs know their unintended part (none, unless ``side_effect_mask`` is set).
            "knows_side_effect": mask is not None
            and (side is not None or (pair.model_extra or {}).get("kind") in SYNTH_KINDS),
            "instruction": pair.instruction,
            "edit_type": pair.edit_type,
            "meta": pair.model_extra or {},
        }
        return self.transform(item) if self.transform else item
