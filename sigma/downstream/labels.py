"""Label the downstream corpus once per source, as a user would: ``sigma annotate`` with each source's
model (the champion, the change detector, a pixel-difference method through ``method:NAME``), so
every source ends in the IMDL-BenCo files (with Negatives) that the detectors then train from. The
``truth`` source writes the corpus's own masks through the same exporter: the oracle row.

Each source's masks are scored against the truth per split: label quality beside detector quality.
"""

from __future__ import annotations

import json
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sigma.annotate.corpora import open_corpus
from sigma.annotate.imdl import ImdlExport
from sigma.annotate.run import annotate_corpus
from sigma.annotate.truth import score_against_truth
from sigma.config import LABEL_TRUTH, AnnotateParams, Params
from sigma.data import storage
from sigma.data.images import decode_mask

LABEL_KEYS = ("f1", "iou", "clean_fp_rate", "n_manipulated", "n_clean")


def truth_labels(corpus: str, out: str | Path, cfg: AnnotateParams) -> dict[str, Any]:
    """The corpus's masks as IMDL-BenCo files in ``out`` (pairs without a mask are left out), filtered
    by ``annotate``'s rules like any annotation run; returns the export's summary."""
    out = Path(out)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with ExitStack() as stack:
        export = ImdlExport(tmp, stack, cfg, str(out))
        for pair in open_corpus(corpus):
            if not pair.mask or (pair.model_extra or {}).get("invalid_reason"):
                continue
            mask = decode_mask(storage.read_bytes(pair.mask))
            record = {
                "original": pair.original,
                "edited": pair.edited,
                "edit_type": pair.edit_type,
                "split": pair.split,
                "parsed": (pair.model_extra or {}).get("parsed"),
                "area": float(mask.mean()),
                "score": 1.0,
            }
            export.add(record, pair.mask)
        export.finish()
    summary = export.summary()
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return summary


def label_source(params: Params, source: str, spec: str, out: str, track: bool = True) -> dict[str, Any]:
    """One source's labels of ``downstream.corpus`` in ``out`` (written afresh), with their quality."""
    corpus = params.downstream.corpus
    if spec == LABEL_TRUTH:
        summary = truth_labels(corpus, out, params.annotate)
        return {"source": source, "model": spec, **summary}
    shutil.rmtree(out, ignore_errors=True)  # a DVC stage starts afresh; `sigma annotate --resume` is the user's
    summary = annotate_corpus(params, corpus, out, spec, track=track)
    quality = score_against_truth(out, corpus)
    keep = ("pairs", "annotated", "rejected", "imdlbenco_pairs", "imdlbenco_negatives", "imdlbenco_filtered")
    return {
        "source": source,
        "model": spec,
        **{k: summary[k] for k in keep if k in summary},
        "label_quality": {split: {k: v for k, v in m.items() if k in LABEL_KEYS} for split, m in quality.items()},
    }


def labels_stage(params: Params, metrics: str | Path | None = None, track: bool = True) -> dict[str, Any]:
    """Every source of ``downstream.sources`` into ``downstream.labels/<source>``; ``metrics`` gets
    each source's counts and its masks' F1/IoU against the truth per split (DVC metrics)."""
    cfg = params.downstream
    if not Path(cfg.corpus, "manifest.jsonl").exists() and not storage.is_s3(cfg.corpus):
        raise FileNotFoundError(f"{cfg.corpus} holds no manifest.jsonl: run `sigma data synth downstream` first")
    report = {
        source: label_source(params, source, spec, f"{cfg.labels}/{source}", track)
        for source, spec in cfg.sources.items()
    }
    if metrics:
        storage.write_json_atomic(str(metrics), report)
    return report
