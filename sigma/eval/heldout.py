"""Score an annotator on a split of an edit-pair dataset, through :meth:`SigmaAnnotator.annotate`."""

from __future__ import annotations

from sigma.data.dataset import load_pair_arrays
from sigma.data.pairs import read_manifest
from sigma.eval.metrics import summarise
from sigma.model.sigma import SigmaAnnotator


def score_split(
    model: SigmaAnnotator, dataset: str, split: str | None = None, batch_size: int = 8, limit: int | None = None
) -> dict[str, float]:
    """F1/IoU (and the false-positive rate of all-zero pairs) of ``dataset``'s ``split``."""
    pairs = [p for p in read_manifest(dataset) if p.mask and (split is None or p.split == split)][:limit]
    arrays = [load_pair_arrays(p) for p in pairs]
    annotations = model.annotate(
        ((a["original"], a["edited"], p.instruction) for a, p in zip(arrays, pairs, strict=True)), batch_size=batch_size
    )
    return summarise([a.mask for a in annotations], [a["mask"] for a in arrays])


def score_round_trips(
    model: SigmaAnnotator,
    vae,
    dataset: str,
    split: str | None,
    sigma_max: float,
    seed: int = 0,
    batch_size: int = 8,
    limit: int | None = None,
) -> dict[str, float]:
    """False positives on "edits" that are only a VAE round trip of the original (all-zero truth).

    Each held-out original is round-tripped at ``sigma ~ U(0, sigma_max)`` (seeded) and paired with
    its own instruction: an editor that changed nothing but the diffusion noise.
    """
    import numpy as np

    from sigma.data.vae import round_trip_image

    pairs = [p for p in read_manifest(dataset) if split is None or p.split == split][:limit]
    rng = np.random.default_rng(seed)
    triples, truths = [], []
    for pair in pairs:
        original = load_pair_arrays(pair)["original"]
        noisy = round_trip_image(vae, original, float(rng.uniform(0, sigma_max)), int(rng.integers(2**31)))
        triples.append((original, noisy, pair.instruction))
        truths.append(np.zeros(original.shape[:2], bool))
    annotations = model.annotate(triples, batch_size=batch_size)
    return summarise([a.mask for a in annotations], truths)
