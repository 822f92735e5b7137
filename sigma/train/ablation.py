"""The ablation variants (``ablation.variants`` with ``model`` overrides): each is trained like
Stage I, with the same data and ``stage1`` params, into ``ablation.out/NAME``, for ``ablation.epochs``
(null: ``stage1.epochs``).

With ``ablation.processes`` > 1 the variants train side by side, each in a spawned process with an
equal share of the torch threads: for machines whose cores one small model cannot keep busy. On 2 CPU
cores it gained nothing (two single-threaded processes took as long as the variants in turn).
"""

from __future__ import annotations

from pathlib import Path

import torch

from sigma.config import Params, with_overrides
from sigma.data.workers import spawn_pool
from sigma.train.stage1 import train_stage1


def _train_variant(params: Params, track: bool) -> None:
    train_stage1(params, track=track, score=False)  # the ablation stage scores it


def train_ablation(params: Params, names: list[str] | None = None, track: bool = True) -> dict:
    """Train the variants named (default: every one with model overrides); returns their checkpoints."""
    trained, jobs = {}, []
    epochs = params.ablation.epochs or params.stage1.epochs
    for variant in params.ablation.variants:
        if variant.model is None or (names and variant.name not in names):
            continue
        checkpoint = params.ablation.checkpoint_of(variant)
        out = Path(checkpoint).parent
        variant_params = params.model_copy(
            update={
                "model": with_overrides(params.model, variant.model),
                "stage1": params.stage1.model_copy(update={"out": str(out), "epochs": epochs}),
            }
        )
        jobs.append(variant_params)
        trained[variant.name] = checkpoint
    processes = min(params.ablation.processes, len(jobs))
    if processes <= 1:
        for job in jobs:
            _train_variant(job, track)
        return trained
    threads = max(1, torch.get_num_threads() // processes)
    with spawn_pool(processes, threads) as pool:
        for done in [pool.submit(_train_variant, job, track) for job in jobs]:
            done.result()  # a failed variant raises here, once the running ones end
    return trained
