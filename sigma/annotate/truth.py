"""Score an annotation run against the corpus's own masks, where it has them (a synthetic corpus's
hidden truth, a benchmark annotated as a corpus): the check that the annotated masks are the ones
``sigma evaluate`` scores."""

from __future__ import annotations

import json

from sigma.annotate.corpora import open_corpus
from sigma.annotate.layout import OutputLayout
from sigma.data import storage
from sigma.data.images import decode_mask
from sigma.eval.metrics import PixelScores


def score_against_truth(out: str, corpus: str) -> dict[str, dict]:
    """``{"all": metrics, "<split>": metrics, ...}`` over annotated pairs whose corpus record has a mask;
    empty when none has."""
    layout = OutputLayout(out)
    truth = {p.id: (p.mask, p.split) for p in open_corpus(corpus) if p.mask}
    scores: dict[str, PixelScores] = {}
    for raw in storage.iter_lines(layout.path("annotations.jsonl")):
        record = json.loads(raw)
        if record["id"] not in truth:
            continue
        mask_uri, split = truth[record["id"]]
        pred = decode_mask(storage.read_bytes(layout.path(record["mask"])))
        gt = decode_mask(storage.read_bytes(mask_uri))
        for key in ("all", split):
            if key:
                scores.setdefault(key, PixelScores()).add(pred, gt)
    return {key: acc.summary() for key, acc in scores.items()}
