"""Shards annotated by a pool of worker processes on this machine (``annotate.processes``).

On a CPU, two single-threaded processes annotate ~1.4x more pairs per second than one process with
two threads: decoding, the logit rules and much of a small model's work run one thread at a time, so
a second core idles for a large share of every pair. Each worker loads the model once and runs
:func:`~sigma.annotate.run.run_shard`, the same function the in-process and Ray runners call, so a
shard commits exactly once whichever runs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import torch

from sigma.annotate.layout import OutputLayout
from sigma.annotate.run import load_for_run, markers_in_order, run_shard
from sigma.annotate.shard import ShardTask
from sigma.config import Params
from sigma.data.workers import spawn_pool
from sigma.model.sigma import SigmaAnnotator

_annotator: SigmaAnnotator | None = None  # the worker's model, loaded once by _load_model


def _load_model(model: dict[str, Any]) -> None:
    global _annotator
    _annotator = load_for_run(model)


def _run_shard(task: ShardTask, out: str, params: Params, model: dict[str, Any]) -> dict[str, Any]:
    return run_shard(task, out, params, model, _annotator)


def process_dispatch(processes: int):
    """A ``dispatch`` for :func:`~sigma.annotate.run.annotate_corpus`: shards run on ``processes``
    spawned workers, each with an equal share of this process's torch threads (at least one); at most
    two shards per worker are in flight (the driver's memory stays flat) and their markers are yielded
    in shard order. Committed shards are skipped in the driver, without a worker."""

    def dispatch(tasks: Iterator[ShardTask], *, out: str, params: Params, model: dict[str, Any]) -> Iterator[dict]:
        threads = max(1, torch.get_num_threads() // processes)
        with spawn_pool(processes, threads, _load_model, (model,)) as pool:

            def submit(task: ShardTask) -> Future:
                return pool.submit(_run_shard, task, out, params, model)

            yield from markers_in_order(tasks, OutputLayout(out), submit, 2 * processes)

    return dispatch
