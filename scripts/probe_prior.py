"""How much could a better grounder give? Scores a checkpoint on a pair dataset twice: with the
prior its own parser and grounder make, and with the ground-truth mask as the intent prior (a
perfect grounder: the mask's share of each token cell). Prints F1 / IoU per drift level. A probe of
the model, not the evaluation stage:
``python scripts/probe_prior.py models/stage1/sigma.safetensors data/synth/dev``."""

import argparse
from collections import defaultdict
from itertools import islice
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F

from sigma.data.dataset import load_pair_arrays
from sigma.eval.benchmarks.pairs import load_pairs
from sigma.eval.evaluate import pair_groups
from sigma.eval.metrics import PixelScores
from sigma.model.checkpoint import load_checkpoint
from sigma.model.prior import IntentPrior


class TruthPrior:
    """Stands in for ``SigmaAnnotator.prior`` (batches of one pair): the current pair's truth mask,
    letterboxed as the model's inputs are and area-pooled onto the token grid, floored at ``eps``."""

    def __init__(self, model, own_prior):
        self.model, self.own_prior = model, own_prior
        self.mask = np.zeros((1, 1), dtype=bool)  # the pair being scored: set before each call

    def __call__(self, originals, editeds, instructions, grid, features=None):
        intent, parsed = self.own_prior(originals, editeds, instructions, grid, features)
        truth = torch.from_numpy(self.mask.astype(np.float32))[None].expand(3, -1, -1)
        canvas, _ = self.model.prepare([truth])
        pooled = F.adaptive_avg_pool2d(canvas[:, :1], grid).clamp(self.model.config.eps, 1)
        return pooled.to(intent.dtype), parsed


def main(checkpoint: str, dataset: str, limit: int | None = None) -> None:
    model = load_checkpoint(checkpoint).eval()
    own = model.prior
    truth = TruthPrior(model, own)
    priors = [("own prior", own), ("truth prior", cast(IntentPrior, truth))]  # duck-typed: only called
    scores: defaultdict[tuple[str, str], PixelScores] = defaultdict(PixelScores)
    for pair in islice(load_pairs(dataset), limit):
        arrays = load_pair_arrays(pair)
        if arrays["mask"] is None:
            continue
        truth.mask = arrays["mask"]
        groups = ["all", *(g for g in pair_groups(pair) if g.startswith("drift/"))]
        for name, prior in priors:
            model.prior = prior
            logits, _, _ = next(model.iter_outputs([(arrays["original"], arrays["edited"], pair.instruction)], 1))
            pred = (torch.sigmoid(logits[0]) > model.config.threshold).numpy()
            for group in groups:
                scores[(group, name)].add(pred, arrays["mask"])
    model.prior = own
    for (group, name), s in sorted(scores.items()):
        summary = s.summary()
        print(f"{group:12s} {name:12s} F1={100 * summary['f1']:.2f} IoU={100 * summary['iou']:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="SIGMA checkpoint (.safetensors)")
    parser.add_argument("dataset", nargs="?", default="data/synth/dev", help="pair folder with masks")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N pairs")
    args = parser.parse_args()
    main(args.checkpoint, args.dataset, args.limit)
