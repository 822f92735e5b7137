"""``reports/gallery.html``: original | edited | truth | prediction for sampled pairs, worst first.

Worst means lowest F1 on manipulated pairs, then most false-positive pixels on all-zero pairs. The
page is self-contained (thumbnails inlined as JPEG data URIs) so it can be opened from an artifact store.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import cast

import numpy as np

from sigma.config import BenchmarkSpec
from sigma.data.dataset import load_pair_arrays
from sigma.data.storage import write_bytes_atomic
from sigma.eval.benchmarks import iter_benchmark
from sigma.eval.evaluate import EvalResult, PairRecord
from sigma.eval.methods.base import Method

THUMB = 160
TRUTH, PREDICTION = np.array([40, 200, 80]), np.array([230, 40, 40])
# the side effects within each, where the truth knows them and the method splits its mask (the review page's yellow)
TRUTH_SIDE, PREDICTION_SIDE = np.array([40, 120, 230]), np.array([240, 200, 0])


def worst_first(records: list[PairRecord], n: int) -> list[PairRecord]:
    manipulated = sorted((r for r in records if r.f1 is not None), key=lambda r: cast(float, r.f1))
    clean = sorted((r for r in records if r.f1 is None), key=lambda r: -r.fp_rate)
    # A quarter of the page for false alarms when there are both kinds, all of it when there are only those.
    n_clean = min(len(clean), max(n // 4, n - len(manipulated)))
    return manipulated[: n - n_clean] + clean[:n_clean]


def overlay(image: np.ndarray, mask: np.ndarray, colour: np.ndarray, side=None, side_colour=None) -> np.ndarray:
    """``image`` with ``mask`` tinted ``colour``, and its ``side`` part (within it) ``side_colour``."""
    out = image.astype(np.float32)
    out[mask] = 0.45 * out[mask] + 0.55 * colour
    if side is not None and side.any():
        side = side & mask
        out[side] = 0.45 * image[side] + 0.55 * side_colour
    return out.astype(np.uint8)


def thumbnail(image: np.ndarray) -> str:
    """A JPEG data URI at most ``THUMB`` pixels a side (JPEG: a page of ~200 images stays a few MB)."""
    from PIL import Image

    pil = Image.fromarray(image)
    pil.thumbnail((THUMB, THUMB))
    buffer = io.BytesIO()
    pil.save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _row(benchmark: str, record: PairRecord, arrays: dict, prediction, instruction: str) -> str:
    cells = [
        arrays["original"],
        arrays["edited"],
        overlay(arrays["edited"], arrays["mask"], TRUTH, arrays.get("side_effect"), TRUTH_SIDE),
        overlay(arrays["edited"], prediction.mask, PREDICTION, prediction.side_effect, PREDICTION_SIDE),
    ]
    score = (
        f"F1 {record.f1:.3f} · IoU {record.iou:.3f}"
        if record.f1 is not None
        else f"all-zero truth · false positives {record.fp_rate:.1%}"
    )
    images = "".join(f'<td><img src="{thumbnail(c)}"></td>' for c in cells)
    # The instruction sits in the pair's own row: a row of its own below read as the next pair's.
    return (
        f"<tr><td><b>{html.escape(record.id)}</b><br>{html.escape(benchmark)}<br>"
        f"<span class=instr>{html.escape(instruction or '(no instruction)')}</span><br>{score}<br>"
        f"{html.escape(', '.join(record.groups))}</td>{images}</tr>"
    )


def write_gallery(
    path: Path, results: dict[str, EvalResult], specs: list[BenchmarkSpec], method: Method, size: int
) -> Path:
    """Re-predict the ``size`` worst pairs per benchmark with ``method`` and write the page."""
    rows = []
    for spec in specs:
        chosen = worst_first(results[spec.name].records, size)
        by_id = {p.id: p for p in iter_benchmark(spec)}
        arrays = [load_pair_arrays(by_id[r.id]) for r in chosen]
        predictions = method.predict(
            [(a["original"], a["edited"], by_id[r.id].instruction) for a, r in zip(arrays, chosen, strict=True)]
        )
        for (
            record,
            a,
            pred,
        ) in zip(chosen, arrays, predictions, strict=True):
            rows.append(_row(spec.name, record, a, pred, by_id[record.id].instruction))
    title = html.escape(method.name)
    style = (
        "body{font-family:sans-serif} table{border-collapse:collapse} "
        "td{vertical-align:top;padding:6px 4px;border-bottom:1px solid #ccc} td:first-child{max-width:260px} "
        ".instr{font-style:italic;color:#333}"
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>SIGMA gallery ({title})</title>
<style>{style}</style>
</head><body><h1>SIGMA gallery: {title}, worst cases first</h1>
<p>Columns: original | edited | truth (green; its side effect blue) | prediction (red; what it calls a side
effect yellow).</p>
<table><tr><th>pair</th><th>original</th><th>edited</th><th>truth</th><th>prediction</th></tr>
{"".join(rows)}</table></body></html>"""
    write_bytes_atomic(str(path), page.encode())
    return path
