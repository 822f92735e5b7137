"""Benchmarks by name: each loader turns a dataset's published on-disk layout into edit pairs.

A loader takes the dataset's root (local folder or ``s3://`` prefix) and yields resolved
:class:`~sigma.data.pairs.EditPair` records: absolute ``original``/``edited``/``mask`` paths, the
instruction (``""`` where the benchmark has none) and, where the layout says, ``edit_type``.
Pairs are yielded lazily so that a large benchmark is never held in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice

from sigma.config import BenchmarkSpec, EvaluateParams
from sigma.data.pairs import EditPair
from sigma.registry import Registry

Loader = Callable[[str], Iterator[EditPair]]
LOADERS: Registry[Loader] = Registry("benchmark")
register_benchmark = LOADERS.register
benchmark_loader = LOADERS.get


class BenchmarkLayoutError(ValueError):
    """A benchmark root that does not hold the layout its loader expects; says what is missing."""


def list_benchmarks() -> list[str]:
    return sorted(LOADERS.names())


def iter_benchmark(spec: BenchmarkSpec) -> Iterator[EditPair]:
    """The benchmark's pairs (lazily), filtered to ``spec.split`` and cut at ``spec.limit``."""
    pairs = benchmark_loader(spec.loader)(spec.path)
    if spec.split:
        pairs = (p for p in pairs if p.split == spec.split)
    return islice(pairs, spec.limit)


def find_benchmark(cfg: EvaluateParams, name: str) -> BenchmarkSpec:
    for spec in cfg.benchmarks:
        if spec.name == name:
            return spec
    raise KeyError(f"no benchmark named {name!r} in evaluate.benchmarks ({[b.name for b in cfg.benchmarks]})")
