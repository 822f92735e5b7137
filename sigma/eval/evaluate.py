"""One evaluation loop for every method: decode pairs, predict in batches, score, group, reject.

A pair that cannot be decoded (missing or corrupt file, size mismatch) is rejected with its reason
and the run goes on. Results are grouped by edit kind and perturbation strength where the pairs say
(synthetic pairs carry ``edit_type``, ``side_effect_mask`` and ``perturb_strength``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import Any

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

from sigma.data.dataset import PairError, load_pair_arrays
from sigma.data.pairs import EditPair
from sigma.eval.methods.base import Method
from sigma.eval.metrics import PixelScores, SplitScores
from sigma.progress import LoggedProgress

KIND_NAMES = {
    "remove": "removal",
    "attribute_change": "recolour",
    "replace": "replacement",
    "add": "addition",
    "copy_move": "copy-move",
    "global": "global",
}
STRENGTH_EDGES = (0.25, 0.5, 0.75)  # perturbation-strength bins of synthetic pairs
SMALL_EDIT = 0.005  # an edit of at most this share of the image is ``area/small``


def sub_kind(pair: EditPair) -> str | None:
    """What a synthetic attribute change or copy-move did: ``attribute/recolour`` (or ``blur``,
    ``fade``, ``brighten``, ``darken``), ``copy/move`` or ``copy/duplicate``; else ``None``."""
    extra = pair.model_extra or {}
    if pair.edit_type == "attribute_change" and ("colour" in extra or "attribute" in extra):
        return f"attribute/{extra.get('attribute', 'recolour')}"
    if pair.edit_type == "copy_move" and "copy" in extra:
        return f"copy/{extra['copy']}"
    return None


def pair_groups(pair: EditPair) -> list[str]:
    """The report groups of a pair: ``kind/<edit kind>`` and its sub-kind (:func:`sub_kind`),
    ``kind/side-effect`` too when the edit changed something unintended, ``drift/<level>`` and
    ``drift/<level>/<edit kind>`` (dev benchmark), ``area/small`` (edits of at most
    :data:`SMALL_EDIT` of the image) and ``strength/<bin>``."""
    groups = []
    if pair.edit_type in KIND_NAMES:
        groups.append(f"kind/{KIND_NAMES[pair.edit_type]}")
    if (sub := sub_kind(pair)) is not None:
        groups.append(sub)
    if pair.side_effect_mask:
        groups.append("kind/side-effect")
    drift = (pair.model_extra or {}).get("drift")
    if drift is not None:
        groups.append(f"drift/{drift}")
        if pair.edit_type in KIND_NAMES:  # each kind at each drift level: where a method's lead holds
            groups.append(f"drift/{drift}/{KIND_NAMES[pair.edit_type]}")
    area = (pair.model_extra or {}).get("mask_area")
    if area is not None and 0 < area <= SMALL_EDIT:
        groups.append("area/small")
    strength = (pair.model_extra or {}).get("perturb_strength")
    if strength is not None:
        edges = (0.0, *STRENGTH_EDGES, 1.0)
        i = min(int(np.searchsorted(STRENGTH_EDGES, strength, side="right")), len(STRENGTH_EDGES))
        groups.append(f"strength/{edges[i]:.2f}-{edges[i + 1]:.2f}")
    return groups


@dataclass
class PairRecord:
    id: str
    f1: float | None  # None: all-zero truth
    iou: float | None
    fp_rate: float  # predicted pixels outside the truth, as a share of the image
    groups: list[str]


@dataclass
class EvalResult:
    summary: dict[str, float]
    groups: dict[str, dict[str, float]]
    records: list[PairRecord] = field(default_factory=list)
    rejects: list[dict[str, str]] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        """What goes into DVC metrics: the summary, the groups and the reject count."""
        return {**self.summary, "n_rejected": len(self.rejects), "groups": self.groups}

    def to_json(self) -> dict[str, Any]:
        return {**self.metrics(), "records": [asdict(r) for r in self.records], "rejects": self.rejects}


def _load(pair: EditPair) -> tuple[EditPair, dict[str, Any] | str]:
    invalid = (pair.model_extra or {}).get("invalid_reason")
    if invalid:
        return pair, f"invalid benchmark record: {invalid}"
    try:
        return pair, load_pair_arrays(pair)
    except PairError as exc:
        return pair, exc.reason


def decoded_batches(
    pairs: Iterable[EditPair], batch_size: int, workers: int = 4
) -> Iterator[tuple[list[tuple[EditPair, dict[str, Any]]], list[dict[str, str]]]]:
    """``(good, rejects)`` per batch; decoding runs in threads (PIL and file reads release the GIL)."""
    it = iter(pairs)
    with ThreadPoolExecutor(workers) as pool:
        while chunk := list(islice(it, batch_size)):
            loaded = list(pool.map(_load, chunk))
            good = [(p, a) for p, a in loaded if not isinstance(a, str)]
            bad = [{"id": p.id, "reason": a} for p, a in loaded if isinstance(a, str)]
            bad += [{"id": p.id, "reason": "no ground-truth mask"} for p, a in good if a["mask"] is None]
            yield [(p, a) for p, a in good if a["mask"] is not None], bad


def progress_bar() -> LoggedProgress:
    return LoggedProgress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True
    )


def evaluate(
    method: Method,
    pairs: Iterable[EditPair],
    *,
    batch_size: int = 8,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    total: int | None = None,
    description: str = "",
) -> EvalResult:
    """Score ``method`` on ``pairs`` (resolved, with masks); ``transform`` degrades each edited image
    first (robustness sweep). A method that splits its masks is also scored on the intended /
    side-effect split where the pairs carry side effects (:class:`~sigma.eval.metrics.SplitScores`)."""
    overall, split = PixelScores(), SplitScores()
    grouped: defaultdict[str, PixelScores] = defaultdict(PixelScores)
    records, rejects = [], []
    with progress_bar() as progress:
        task = progress.add_task(description or method.name, total=total)
        for good, bad in decoded_batches(pairs, batch_size):
            rejects += bad
            triples = [
                (a["original"], transform(a["edited"]) if transform else a["edited"], p.instruction) for p, a in good
            ]
            for (pair, arrays), pred in zip(good, method.predict(triples) if triples else [], strict=True):
                gt = arrays["mask"]
                result = overall.add(pred.mask, gt, pred.score)
                if pred.splits:
                    split.add(pred.mask, pred.side_effect, gt, arrays["side_effect"])
                groups = pair_groups(pair)
                for group in groups:
                    grouped[group].add(pred.mask, gt, pred.score)
                f1, iou = result or (None, None)
                records.append(PairRecord(pair.id, f1, iou, float((pred.mask & ~gt).mean()), groups))
            progress.advance(task, len(good) + len(bad))
    summary = overall.summary() | split.summary()  # the split where the method gives one and the truth knows it
    return EvalResult(summary, {g: grouped[g].summary() for g in sorted(grouped)}, records, rejects)
