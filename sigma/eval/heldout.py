"""Score an annotator on a split of an edit-pair dataset, through :meth:`SigmaAnnotator.annotate`."""

from __future__ import annotations

from sigma.data.dataset import load_pair_arrays
from sigma.data.pairs import read_manifest
from sigma.eval.metrics import summarise
from sigma.model.sigma import SigmaAnnotator


def score_split(model: SigmaAnnotator, dataset: str, split: str | None = None, batch_size: int = 8,
                limit: int | None = None) -> dict[str, float]:
    """F1/IoU (and the false-positive rate of all-zero pairs) of ``dataset``'s ``split``."""
    pairs = [p for p in read_manifest(dataset) if p.mask and (split is None or p.split == split)][:limit]
    arrays = [load_pair_arrays(p) for p in pairs]
    annotations = model.annotate(((a["original"], a["edited"], p.instruction) for a, p in zip(arrays, pairs,
                                  strict=True)), batch_size=batch_size)
    return summarise([a.mask for a in annotations], [a["mask"] for a in arrays])
