"""Rules on the edit logits at the pair's resolution, after the network (beyond the paper).

All act on the logits, so every consumer (annotation, evaluation, the served model) thresholds
the same result:

- **Pixel-exact pairs.** When most pixels of a pair are bit-identical, and they lie in whole
  untouched patches, the editor did not re-render the image (a hand edit, a copy-move, an inpainter
  that pastes back): the pixels that differ are the edit, exactly, at full resolution. A
  regenerating editor touches every pixel; a light one (a mild tone shift, faint noise) can leave
  half of them bit-identical, but scattered, so almost no whole patch stays untouched, the rule does
  not fire and the network decides.
- **Small regions** (as segment-anything's ``min_mask_region_area``): predicted regions smaller
  than a share of the image are dropped, except the largest, so a single small edit survives
  while scattered specks of re-rendering noise go. A small region the model is sure of, whose
  pixels changed more than the pair's re-rendering changed the rest, stays: small edits in large
  images are that size, and a speck of noise is neither.
- **Growth along the pixel difference** (hysteresis in the spirit of Canny's): the network's regions
  stop a few pixels inside an edit's boundary (its maps are coarser than the pixels), so each
  region is grown into a band around it wherever the pixels changed more than the pair's own
  re-rendering changed them, measured where the network is sure nothing was edited. The band and
  that noise level come from the pair itself; a pair with no predicted region grows nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import cv2
import numpy as np
import torch
from scipy import ndimage

from sigma.config import PostprocessParams

EXACT_LOGIT = 10.0  # sigmoid(10) > 0.9999: a bit-level difference is certain
GROWN_LOGIT = 1.0  # sigmoid(1) = 0.73: pixel evidence next to a region, surer than not, not certain
EXACT_WINDOW = 16  # pixels: the side of the squares in which an untouched pair's identical pixels lie
# An untouched pair keeps >= 97 % of its identical pixels in wholly identical squares (the 295 such pairs
# of the dev benchmarks), a lightly re-rendered one <= 81 % (their 6 pairs over exact_min_identical
# identical). Noise scattered over 0.5 % of the pixels keeps 90 %: the most a misfire can call changed.
MIN_UNTOUCHED = 0.9
SURE_UNCHANGED = 0.05  # the re-rendering noise level is measured where the model's probability is below this
MIN_EVIDENCE = 0.5  # a small region is kept only when this share of its pixels changed beyond that noise


def channel_max_difference(original: torch.Tensor, edited: torch.Tensor) -> np.ndarray:
    """Both images ``(3, H, W)`` uint8 -> ``max_c |o - e|`` ``(H, W)`` uint8. The images are
    usually channel-last arrays seen channel-first (:func:`~sigma.data.dataset.image_view`), so the
    difference is taken in that memory order (a strided reduction over the channels is 20x slower)."""
    o, e = (np.moveaxis(im.cpu().numpy(), 0, -1) for im in (original, edited))
    diff = cv2.absdiff(np.ascontiguousarray(o), np.ascontiguousarray(e))
    return np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2])


def histogram_quantile(counts: np.ndarray, q: float) -> float:
    """The ``q`` quantile of the integers counted in ``counts`` (``counts[v]``: how many equal
    ``v``), interpolated as :func:`numpy.quantile` does (its default, linear); a counting sort's
    time instead of a partial sort's."""
    ends = np.cumsum(counts)
    position = q * (ends[-1] - 1)
    lo, hi = np.searchsorted(ends, [np.floor(position), np.ceil(position)], side="right")
    return float(lo + (hi - lo) * (position - np.floor(position)))


def _clipped(image: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` uint8 -> ``(H, W)``: the pixel is black or white in every channel."""
    r, g, b = image.cpu().numpy()  # per-channel maxima, as in channel_max_difference: no strided reduction
    clipped: np.ndarray = (np.maximum(np.maximum(r, g), b) == 0) | (np.minimum(np.minimum(r, g), b) == 255)
    return clipped


def untouched_share(identical: np.ndarray, clipped: np.ndarray) -> float:
    """Of the ``identical`` pixels (``(H, W)`` bool, none of them ``clipped``), the share that lies in
    some :data:`EXACT_WINDOW`-pixel square whose every unclipped pixel is identical (a morphological
    opening); 1 when there are none. A re-rendering's identical pixels are scattered: few such squares."""
    if not identical.any():
        return 1.0
    side = min(EXACT_WINDOW, *identical.shape)  # a thumbnail is its own square
    square = np.ones((side, side), np.uint8)
    untouched = cv2.morphologyEx((identical | clipped).astype(np.uint8), cv2.MORPH_OPEN, square) > 0
    return float((identical & untouched).sum() / identical.sum())


def exact_difference(
    edit: torch.Tensor, original: torch.Tensor, edited: torch.Tensor, min_identical: float
) -> torch.Tensor:
    """``edit`` logits ``(H, W)``; both images ``(3, H, W)`` at the pair's own resolution (uint8) ->
    ``±EXACT_LOGIT`` by pixel difference when at least ``min_identical`` of the pixels are
    identical and at least :data:`MIN_UNTOUCHED` of those lie in wholly identical squares
    (:func:`untouched_share`), else ``edit`` unchanged. Pixels clipped in the original (all channels 0,
    or all 255: letterbox bars, blown-out sky) are not counted: re-rendering's tone changes clip them
    back to the same value, so their identity says nothing about whether the pair was re-rendered."""
    differs = channel_max_difference(original, edited) > 0
    clipped = _clipped(original)
    identical = ~differs & ~clipped
    if identical.sum() < min_identical * (~clipped).sum():
        return edit
    if untouched_share(identical, clipped) < MIN_UNTOUCHED:
        return edit
    return torch.where(torch.from_numpy(differs).to(edit.device), EXACT_LOGIT, -EXACT_LOGIT).to(edit.dtype)


def patch_difference(original: torch.Tensor, edited: torch.Tensor) -> np.ndarray:
    """Both images ``(3, H, W)`` uint8 -> ``(H, W)`` int32 3x3 sums of :func:`channel_max_difference`
    (9x the mean, exact integers): one re-rendered pixel is noise, a 3x3 patch is evidence."""
    return cv2.boxFilter(channel_max_difference(original, edited), cv2.CV_32S, (3, 3), normalize=False)


def changed_beyond_noise(edit: np.ndarray, patch: np.ndarray, quantile: float) -> np.ndarray:
    """``(H, W)`` bool: pixels whose :func:`patch_difference` ``patch`` exceeds its ``quantile`` where
    the model is sure nothing changed (the pair's own re-rendering noise); all False when the model
    is sure of no pixel. ``edit``: logits ``(H, W)``."""
    sure_unchanged = edit < np.log(SURE_UNCHANGED / (1 - SURE_UNCHANGED))
    if not sure_unchanged.any():
        return np.zeros(edit.shape, bool)
    noise = histogram_quantile(np.bincount(patch[sure_unchanged]), quantile)
    return np.asarray(patch > noise)


def drop_small_regions(
    edit: torch.Tensor,
    min_share: float,
    evidence: Callable[[], np.ndarray] | None = None,
    keep_logit: float | None = None,
) -> torch.Tensor:
    """``edit`` logits ``(H, W)`` with each 8-connected positive region smaller than ``min_share``
    of the image, except the largest region, flipped negative. With ``keep_logit`` and ``evidence``
    (giving ``(H, W)`` bool, the pixels that changed beyond the re-rendering noise; called only when
    there is a small region), a small region that reaches ``keep_logit`` and whose pixels are mostly
    evidence stays."""
    positive = (edit > 0).cpu().numpy()
    labels, n = ndimage.label(positive, structure=np.ones((3, 3), bool))
    if n < 2:
        return edit
    sizes = np.bincount(labels.ravel())
    small = sizes < min_share * positive.size
    small[0] = False  # the background
    small[1 + np.argmax(sizes[1:])] = False  # the largest region stays
    if small.any() and keep_logit is not None and evidence is not None:
        peak = ndimage.maximum(edit.float().cpu().numpy(), labels, np.arange(n + 1))
        backed = np.bincount(labels.ravel(), weights=evidence().ravel(), minlength=n + 1) / np.maximum(sizes, 1)
        small &= ~((peak >= keep_logit) & (backed >= MIN_EVIDENCE))
    if not small.any():
        return edit
    drop = torch.from_numpy(small[labels]).to(edit.device)
    return torch.where(drop, -edit.abs(), edit)


def grow_along_difference(
    edit: torch.Tensor,
    original: torch.Tensor,
    edited: torch.Tensor,
    band: float,
    quantile: float = 0.95,
    min_prob: float = 0.02,
    patch: Callable[[], np.ndarray] | None = None,
) -> torch.Tensor:
    """``edit`` logits ``(H, W)``; both images ``(3, H, W)`` (uint8) -> ``edit`` with the pixels
    within ``band`` x the longer side of a positive region set to :data:`GROWN_LOGIT` where their
    3x3-mean difference (largest over channels) exceeds the ``quantile`` of that difference over
    the sure-unchanged pixels, and their own probability is at least ``min_prob``. ``patch`` gives
    the pair's :func:`patch_difference` when a caller already has it."""
    logits = edit.float().cpu().numpy()
    core = logits > 0
    if not core.any():
        return edit
    evidence = changed_beyond_noise(logits, patch() if patch else patch_difference(original, edited), quantile)
    radius = max(1, round(band * max(core.shape)))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    near = cv2.dilate(core.astype(np.uint8), disk) > 0
    grown = near & ~core & evidence & (logits >= np.log(min_prob / (1 - min_prob)))
    if not grown.any():
        return edit
    return torch.where(torch.from_numpy(grown).to(edit.device), GROWN_LOGIT, edit).to(edit.dtype)


def postprocess(
    edit: torch.Tensor, original: torch.Tensor, edited: torch.Tensor, cfg: PostprocessParams
) -> torch.Tensor:
    """The rules, as ``cfg`` enables them (see the module docstring); specks go before growth so
    that only real regions grow."""
    if cfg.exact_min_identical is not None:
        exact = exact_difference(edit, original, edited, cfg.exact_min_identical)
        if exact is not edit:
            return exact  # exact already: nothing left to clean
    patch = cache(lambda: patch_difference(original, edited))  # read by both rules below, made once
    if cfg.min_region > 0:
        keep = cfg.min_region_keep_prob
        before = edit  # the noise is measured on the logits the small regions were found in

        def evidence() -> np.ndarray:
            return changed_beyond_noise(before.float().cpu().numpy(), patch(), cfg.grow_quantile)

        keep_logit = None if keep is None else float(np.log(keep / (1 - keep)))
        edit = drop_small_regions(edit, cfg.min_region, None if keep is None else evidence, keep_logit)
    if cfg.grow_band > 0:
        edit = grow_along_difference(
            edit, original, edited, cfg.grow_band, cfg.grow_quantile, cfg.grow_min_prob, patch=patch
        )
    return edit
