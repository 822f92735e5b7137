"""Choosing ``annotate.min_confidence`` from evidence: the accept rate of reviewed masks by confidence bin,
as numbers and a plot. The review app serves them (reading OUT only); ``sigma export`` writes them
into its DEST (``review_calibration.{json,png}``)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from sigma.data import storage
from sigma.review.index import AnnotationIndex

EDGES = np.round(np.linspace(0.0, 1.0, 11), 2)
CALIBRATION = "review_calibration"


def accept_rate_by_confidence(index: AnnotationIndex) -> dict[str, Any]:
    """Per confidence bin: accepted, rejected, flagged and the accept rate (accepted / accepted+rejected)."""
    with index.lock:
        rows = index.db.execute("SELECT ann.score, decision.decision FROM ann JOIN decision USING (id)").fetchall()
    bins = []
    scores = np.array([s for s, _ in rows], dtype=float)
    decisions = np.array([d for _, d in rows], dtype=object)
    which = np.clip(np.digitize(scores, EDGES[1:-1]), 0, len(EDGES) - 2) if rows else np.array([], int)
    for b in range(len(EDGES) - 1):
        picked = decisions[which == b]
        accepted, rejected = int((picked == "accept").sum()), int((picked == "reject").sum())
        bins.append(
            {
                "low": float(EDGES[b]),
                "high": float(EDGES[b + 1]),
                "accepted": accepted,
                "rejected": rejected,
                "flagged": int((picked == "flag").sum()),
                "accept_rate": round(accepted / (accepted + rejected), 4) if accepted + rejected else None,
            }
        )
    return {"bins": bins, "reviewed": len(rows)}


def plot(calibration: dict[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = calibration["bins"]
    centres = [(b["low"] + b["high"]) / 2 for b in bins]
    rates = [b["accept_rate"] if b["accept_rate"] is not None else np.nan for b in bins]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar(centres, rates, width=0.09, color="#3a7", edgecolor="#274")
    for x, b in zip(centres, bins, strict=True):
        n = b["accepted"] + b["rejected"]
        if n:
            ax.text(x, min(b["accept_rate"] + 0.03, 1.02), f"n={n}", ha="center", fontsize=7)
    ax.set(xlim=(0, 1), ylim=(0, 1.1), xlabel="confidence (mean |2p-1|)", ylabel="accept rate")
    ax.set_title(f"accept rate by confidence ({calibration['reviewed']} reviewed)", fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def write_calibration(index: AnnotationIndex, dest: str) -> dict[str, Any]:
    """Compute the numbers and the plot and write both into ``dest``; returns the numbers."""
    calibration = accept_rate_by_confidence(index)
    storage.write_json_atomic(storage.join(dest, f"{CALIBRATION}.json"), calibration)
    storage.write_bytes_atomic(storage.join(dest, f"{CALIBRATION}.png"), plot(calibration))
    return calibration
