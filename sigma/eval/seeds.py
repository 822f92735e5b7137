"""Seed-averaged comparison of methods: each method trained with several seeds, scored on one
benchmark, reported per group as the mean F1 over its seeds with the spread (max - min).

One seed's margin is not a property of a recipe: a method's lead over another holds in a group
only where the gap of the means exceeds both methods' spreads (:func:`compare`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

OVERALL = "all"  # the row of the benchmark's summary itself


@dataclass(frozen=True)
class SeedScore:
    mean: float  # F1 %, mean over seeds
    spread: float  # max - min over seeds (0 for one seed)
    seeds: int
    n: int  # pairs in the group


def seed_scores(by_method: dict[str, dict], runs: list[str], key: str = "f1") -> dict[str, SeedScore]:
    """Per group (``all`` for the whole benchmark): the score of ``runs`` (method names in
    ``by_method``, one per seed of one recipe) as mean and spread, in %. A group that some seed
    lacks is left out."""
    metrics = [by_method[r] for r in runs]
    groups = {OVERALL: list(metrics)}
    for name in sorted(set.intersection(*(set(m.get("groups", {})) for m in metrics))):
        groups[name] = [m["groups"][name] for m in metrics]
    out = {}
    for name, per_seed in groups.items():
        values = [m.get(key) for m in per_seed]
        if any(v is None for v in values):
            continue
        pct = 100 * np.asarray(values, float)
        out[name] = SeedScore(float(pct.mean()), float(np.ptp(pct)), len(pct), int(per_seed[0].get("n_manipulated", 0)))
    return out


def compare(
    by_method: dict[str, dict], recipes: dict[str, list[str]], lead: tuple[str, str] | None = None
) -> pd.DataFrame:
    """Rows: groups; columns: ``<recipe>`` as ``mean (spread)``, ``n`` and, with ``lead=(a, b)``,
    ``a - b`` marked ``*`` where both have two seeds or more and the gap exceeds both spreads."""
    scores = {name: seed_scores(by_method, runs) for name, runs in recipes.items()}
    groups = [g for g in next(iter(scores.values())) if all(g in s for s in scores.values())]
    rows = []
    for g in groups:
        row: dict[str, object] = {"group": g, "n": next(iter(scores.values()))[g].n}
        for name, s in scores.items():
            row[name] = f"{s[g].mean:.2f} ({s[g].spread:.2f})" if s[g].seeds > 1 else f"{s[g].mean:.2f}"
        if lead:
            a, b = scores[lead[0]][g], scores[lead[1]][g]
            gap = a.mean - b.mean
            beyond = min(a.seeds, b.seeds) > 1 and abs(gap) > max(a.spread, b.spread)  # one seed has no spread
            row[f"{lead[0]} - {lead[1]}"] = f"{gap:+.2f}" + ("*" if beyond else "")
        rows.append(row)
    return pd.DataFrame(rows).set_index("group")
