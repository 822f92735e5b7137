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

from sigma.data.dataset import EditPairDataset, collate_pairs, resized
from sigma.model.sigma import SigmaAnnotator

SPATIAL = ("original", "edited", "mask", "side_effect", "intent")


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
def precompute_intents(model: SigmaAnnotator, dataset: EditPairDataset, batch_size: int = 16) -> dict[str, torch.Tensor]:
    """Intent maps ``(1, h, w)`` by pair id, from each whole pair at the model's input size (the
    grounder is frozen, so once per pair; crops then cut the same window out of the map)."""
    intents = {}
    for start in range(0, len(dataset.pairs), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset.pairs)))]
        size = (model.input_size, model.input_size)
        o = resized([it["original"] for it in items], size)
        e = resized([it["edited"] for it in items], size)
        maps, _ = model.prior(o, e, [it["instruction"] for it in items], model.grid())
        intents |= {it["id"]: m.cpu() for it, m in zip(items, maps, strict=True)}
    return intents


class TrainPairs(Dataset):
    """Items of an :class:`EditPairDataset` plus ``intent`` ``(1, H, W)``, cut to ``crop`` x ``crop``.

    ``train=True``: random resized crop (side scale in [min_scale, 1]) and horizontal flip, both
    images, masks and intent alike; ``train=False``: the whole image resized.
    """

    def __init__(self, pairs: EditPairDataset, intents: dict[str, torch.Tensor], crop: int, min_scale: float,
                 seed: int, train: bool = True):
        self.pairs, self.intents, self.crop, self.min_scale = pairs, intents, crop, min_scale
        self.seed, self.train, self.epoch = seed, train, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict:
        item = dict(self.pairs[index])
        h, w = item["original"].shape[-2:]
        item["intent"] = F.interpolate(self.intents[item["id"]][None], size=(h, w), mode="bilinear")[0]
        size = [self.crop, self.crop]
        if not self.train:
            for key in SPATIAL:
                item[key] = TF.resize(item[key], size, antialias=True)
            return item
        rng = np.random.default_rng([self.seed, self.epoch, index])
        scale = rng.uniform(self.min_scale, 1.0)
        ch, cw = max(1, round(h * scale)), max(1, round(w * scale))
        top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        flip = rng.random() < 0.5
        for key in SPATIAL:
            x = TF.resized_crop(item[key], top, left, ch, cw, size, antialias=True)
            item[key] = TF.horizontal_flip(x) if flip else x
        return item


def collate(items: list[dict]) -> dict:
    batch = collate_pairs(items)
    batch["intent"] = torch.stack(batch["intent"])
    return batch
