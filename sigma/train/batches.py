"""Training batches: pairs with their (precomputed) intent maps, synchronised crop and flip.

Augmentation draws from an RNG seeded by ``(seed, epoch, index)`` and the sampler's order from
``(seed, epoch)``, so a resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Sampler
from torchvision.transforms.v2 import functional as TF

from sigma.config import IntentCorruptionParams, TrainParams
from sigma.data.dataset import EditPairDataset, collate_pairs, resized
from sigma.model.prior import IntentPrior
from sigma.model.sigma import SigmaAnnotator
from sigma.train.crossfit import fold_priors, prior_for


class EpochSampler(Sampler[int]):
    """A permutation per epoch from ``(seed, epoch)``; :meth:`set_epoch` before each epoch."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        return iter(np.random.default_rng([self.seed, self.epoch]).permutation(self.n).tolist())

    def __len__(self) -> int:
        return self.n


@torch.no_grad()
def precompute_intents(
    model: SigmaAnnotator, dataset: EditPairDataset, batch_size: int = 16, priors: list[IntentPrior] | None = None
) -> dict[str, torch.Tensor]:
    """Intent maps ``(1, h, w)`` by pair id, from each whole pair at the model's input size (the
    grounder is frozen, so once per pair; crops then cut the same window out of the map).

    ``priors``: cross-fitted priors (:func:`sigma.train.crossfit.fold_priors`); a pair is then
    grounded by its source photo's fold, one that never saw the photo."""
    groups: dict[IntentPrior, list[int]] = {}  # priors hash by identity
    for index, pair in enumerate(dataset.pairs):
        groups.setdefault(prior_for(pair.source, priors, model.prior), []).append(index)
    size = (model.input_size, model.input_size)
    intents: dict[str, torch.Tensor] = {}
    for prior, indices in groups.items():
        for start in range(0, len(indices), batch_size):
            items = [dataset[i] for i in indices[start : start + batch_size]]
            o = resized([it["original"] for it in items], size)
            e = resized([it["edited"] for it in items], size)
            maps, _ = prior(o, e, [it["instruction"] for it in items], model.grid())
            intents |= {it["id"]: m.cpu() for it, m in zip(items, maps, strict=True)}
    return intents


def corrupt_intent(
    intent: torch.Tensor, rng: np.random.Generator, rates: IntentCorruptionParams, eps: float
) -> tuple[torch.Tensor, list[str]]:
    """``(1, h, w)`` intent map -> the map with each corruption of ``rates`` applied with its
    probability (drop ends it: nothing is left to corrupt); also the names of those applied."""
    applied = []
    if rng.random() < rates.drop:
        return torch.full_like(intent, eps), ["drop"]
    h, w = intent.shape[-2:]
    if rng.random() < rates.shift:
        dy, dx = (int(v) for v in rng.integers(-max(1, h // 4), max(1, h // 4) + 1, 2))
        intent = torch.roll(intent, (dy, dx), dims=(-2, -1))
        applied.append("shift")
    if rng.random() < rates.dilate:
        radius = int(rng.integers(1, max(2, min(h, w) // 8) + 1))
        intent = F.max_pool2d(intent[None], 2 * radius + 1, stride=1, padding=radius)[0]
        applied.append("dilate")
    if rng.random() < rates.false_blob:
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(0.05, 0.2) * max(h, w)
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        blob = torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * r**2)).to(intent)
        intent = torch.maximum(intent, blob[None])
        applied.append("false_blob")
    return intent, applied


class TrainPairs(Dataset):
    """Items of an :class:`EditPairDataset` plus ``intent``, cut to the geometry inference uses.

    Inference refines at the pair's resolution capped at ``max_side`` and runs the backbone at
    ``input_scale`` (= input size / max_side) of that. So a training item is one square window of
    ``crop`` pixels at refinement resolution (scaled down by ``zoom in [min_scale, 1]`` as
    augmentation) given twice: ``pixels_original``/``pixels_edited``/``mask``/``side_effect``
    ``(C, crop, crop)`` for the refiner and the loss, ``original``/``edited``/``intent``
    ``(C, c, c)`` with ``c = crop * input_scale`` for the backbone. Both views flip together.
    """

    def __init__(
        self,
        pairs: EditPairDataset,
        intents: dict[str, torch.Tensor],
        crop: int,
        min_scale: float,
        seed: int,
        input_scale: float = 1.0,
        max_side: int | None = None,
        corruption: IntentCorruptionParams | None = None,
        eps: float = 0.001,
    ):
        self.pairs, self.intents, self.crop, self.min_scale = pairs, intents, crop, min_scale
        self.corruption, self.eps = corruption, eps
        self.seed, self.epoch = seed, 0
        self.input_crop = max(16, round(crop * input_scale))
        self.max_side = max_side

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.pairs)

    def window(self, h: int, w: int, rng: np.random.Generator) -> tuple[int, int, int]:
        """``(top, left, side)`` of a square window holding ``crop`` refinement pixels times the zoom."""
        per_pixel = max(1.0, max(h, w) / self.max_side) if self.max_side else 1.0  # image px per refined px
        side = min(h, w, max(1, round(self.crop * per_pixel * rng.uniform(self.min_scale, 1.0))))
        return int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1)), side

    def __getitem__(self, index: int) -> dict:
        item = dict(self.pairs[index])
        h, w = item["original"].shape[-2:]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        intent = self.intents[item["id"]]
        if self.corruption is not None:
            intent, _ = corrupt_intent(intent, rng, self.corruption, self.eps)
        item["intent"] = F.interpolate(intent[None], size=(h, w), mode="bilinear")[0]
        top, left, side = self.window(h, w, rng)
        flip = rng.random() < 0.5

        def view(x: torch.Tensor, size: int) -> torch.Tensor:
            x = TF.resized_crop(x, top, left, side, side, [size, size], antialias=True)
            return TF.horizontal_flip(x) if flip else x

        for key in ("original", "edited"):
            item[f"pixels_{key}"] = view(item[key], self.crop)
        for key in ("mask", "side_effect"):
            item[key] = view(item[key], self.crop)
        for key in ("original", "edited", "intent"):
            item[key] = view(item[key], self.input_crop)
        return item


def train_pairs(model: SigmaAnnotator, pairs: EditPairDataset, cfg: TrainParams) -> TrainPairs:
    """:class:`TrainPairs` of ``cfg`` in ``model``'s inference geometry (its input size and
    refinement cap), intent maps grounded cross-fitted when ``cfg.grounder_folds`` is set and
    corrupted at ``cfg.intent_corruption``'s rates."""
    max_side = model.config.refine.max_side
    priors = fold_priors(model, cfg.grounder_folds) if cfg.grounder_folds else None
    return TrainPairs(
        pairs,
        precompute_intents(model, pairs, priors=priors),
        cfg.crop_size,
        cfg.min_crop_scale,
        cfg.seed,
        input_scale=model.input_size / max_side,
        max_side=max_side,
        corruption=cfg.intent_corruption,
        eps=model.config.eps,
    )


def collate(items: list[dict]) -> dict:
    batch = collate_pairs(items)
    for key in ("intent", "pixels_original", "pixels_edited"):
        batch[key] = torch.stack(batch[key])
    return batch


def pixels(batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The full-resolution view of a batch: ``(pixels_original, pixels_edited)``."""
    return batch["pixels_original"], batch["pixels_edited"]
