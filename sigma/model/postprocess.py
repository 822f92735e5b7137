"""Rules on the edit logits at the pair's resolution, after the network (beyond the paper).

Both act on the logits, so every consumer (annotation, evaluation, the served model) thresholds
the same result:

- **Pixel-exact pairs.** When most pixels of a pair are bit-identical, the editor did not
  re-render the image (a hand edit, a copy-move, an inpainter that pastes back): the pixels that
  differ are the edit, exactly, at full resolution. A regenerating editor touches every pixel, so
  the rule never fires there and the network decides.
- **Small regions** (as segment-anything's ``min_mask_region_area``): predicted regions smaller
  than a share of the image are dropped, except the largest, so a single small edit survives
  while scattered specks of re-rendering noise go.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from sigma.config import PostprocessParams

EXACT_LOGIT = 10.0  # sigmoid(10) > 0.9999: a bit-level difference is certain


def exact_difference(
    edit: torch.Tensor, original: torch.Tensor, edited: torch.Tensor, min_identical: float
) -> torch.Tensor:
    """``edit`` logits ``(H, W)``; both images ``(3, H, W)`` at the pair's own resolution (uint8) ->
    ``±EXACT_LOGIT`` by pixel difference when at least ``min_identical`` of the pixels are
    identical, else ``edit`` unchanged."""
    differs = (original != edited).any(0).to(edit.device)
    if 1 - differs.float().mean().item() < min_identical:
        return edit
    return torch.where(differs, EXACT_LOGIT, -EXACT_LOGIT).to(edit.dtype)


def drop_small_regions(edit: torch.Tensor, min_share: float) -> torch.Tensor:
    """``edit`` logits ``(H, W)`` with each 8-connected positive region smaller than ``min_share``
    of the image, except the largest region, flipped negative."""
    positive = (edit > 0).cpu().numpy()
    labels, n = ndimage.label(positive, structure=np.ones((3, 3), bool))
    if n < 2:
        return edit
    sizes = np.bincount(labels.ravel())
    small = sizes < min_share * positive.size
    small[0] = False  # the background
    small[1 + np.argmax(sizes[1:])] = False  # the largest region stays
    if not small.any():
        return edit
    drop = torch.from_numpy(small[labels]).to(edit.device)
    return torch.where(drop, -edit.abs(), edit)


def postprocess(
    edit: torch.Tensor, original: torch.Tensor, edited: torch.Tensor, cfg: PostprocessParams
) -> torch.Tensor:
    """Both rules, as ``cfg`` enables them (see the module docstring)."""
    if cfg.exact_min_identical is not None:
        exact = exact_difference(edit, original, edited, cfg.exact_min_identical)
        if exact is not edit:
            return exact  # exact already: nothing left to clean
    return drop_small_regions(edit, cfg.min_region) if cfg.min_region > 0 else edit
