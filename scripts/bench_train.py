"""Training steps/s on this machine for Stage I and Stage II (a benchmark, not a test).

    python scripts/bench_train.py [--steps 10] [--warmup 2] [--set KEY=VALUE ...]

Uses the project's data/synth and models (run `dvc repro stage2` first) and params.yaml; times
optimiser steps only (forward, backward, update), not data preparation.
"""

from __future__ import annotations

import argparse
import time

import torch
from rich.console import Console
from rich.table import Table
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from sigma.config import load_params
from sigma.data.dataset import EditPairDataset
from sigma.data.vae import load_vae
from sigma.model.build import build_sigma
from sigma.model.checkpoint import load_checkpoint
from sigma.train import loop
from sigma.train.batches import train_pairs
from sigma.train.stage1 import EDIT, INPAINT, supervised_terms
from sigma.train.stage2 import Stage2Step


def time_steps(model, loader, step_fn, steps: int, warmup: int, cfg) -> float:
    opt, _ = loop.optimiser(model, cfg, steps + warmup)
    batches = iter(loader)
    times = []
    for i in range(steps + warmup):
        batch = next(batches)
        start = time.perf_counter()
        model.train()
        loss, _ = step_fn(model, batch, i)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], help="params override KEY=VALUE")
    args = parser.parse_args()
    params = load_params("params.yaml", args.set)
    table = Table(title=f"training steps on {torch.get_num_threads()} CPU threads")
    for col in ("stage", "batch", "crop", "median s/step", "steps/s", "pairs/s"):
        table.add_column(col)

    cfg = params.stage1
    model = build_sigma(params.model, params.parse)
    loader, _, _ = loop.train_loader(model, INPAINT, "train", cfg)
    s = time_steps(
        model, loader, lambda m, b, _: supervised_terms(m, b, cfg.attribution_weight), args.steps, args.warmup, cfg
    )
    table.add_row(
        "stage1", str(cfg.batch_size), str(cfg.crop_size), f"{s:.3f}", f"{1 / s:.2f}", f"{cfg.batch_size / s:.1f}"
    )

    cfg = params.stage2
    model = load_checkpoint(f"{params.stage1.out}/{loop.CHECKPOINT}")
    loader, _, _ = loop.train_loader(model, EDIT, "train", cfg)
    inpaint_pairs = EditPairDataset(INPAINT, split="train")
    inpaint = train_pairs(model, inpaint_pairs, cfg)
    teacher = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_momentum), use_buffers=True)
    step_fn = Stage2Step(cfg, teacher, load_vae(params.vae.out), inpaint, params.model.eps)
    s = time_steps(model, loader, step_fn, args.steps, args.warmup, cfg)
    table.add_row(
        "stage2", str(cfg.batch_size), str(cfg.crop_size), f"{s:.3f}", f"{1 / s:.2f}", f"{cfg.batch_size / s:.1f}"
    )
    Console().print(table)


if __name__ == "__main__":
    main()
