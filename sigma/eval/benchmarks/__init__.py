"""Benchmark loaders by name (``evaluate.benchmarks`` in params.yaml, ``sigma evaluate``)."""

from sigma.eval.benchmarks import (  # noqa: F401  (importing registers the loaders)
    autosplice,
    cocoglide,
    deal300k,
    magicbrush,
    opensdi,
    pairs,
)
from sigma.eval.benchmarks.base import (
    BenchmarkLayoutError,
    benchmark_loader,
    find_benchmark,
    iter_benchmark,
    list_benchmarks,
    register_benchmark,
)

__all__ = [
    "BenchmarkLayoutError",
    "benchmark_loader",
    "find_benchmark",
    "iter_benchmark",
    "list_benchmarks",
    "register_benchmark",
]
