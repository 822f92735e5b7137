"""Seconds per training step of the downstream detectors (forward, BCE + Dice, backward, AdamW), with
and without the channels-last layout and ``mobilenet_unet``'s frozen first stages. A measurement, not
a test: it prints one line per configuration.

Examples::

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_detector_step.py                 # 128 px, batch 16, 1 thread
    HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_detector_step.py --size 192 --threads 2
"""

from __future__ import annotations

import argparse
import time

import torch

from sigma.model.detectors import build_detector
from sigma.train.losses import seg_loss

CONFIGS = [  # (detector, kwargs, channels-last)
    ("mobilenet_unet", {"decoder_dim": 32}, False),
    ("mobilenet_unet", {"decoder_dim": 32}, True),
    ("mobilenet_unet", {"decoder_dim": 32, "frozen_stages": 2}, False),
    ("mobilenet_unet", {"decoder_dim": 32, "frozen_stages": 2}, True),
    ("srm_unet", {}, False),
    ("srm_unet", {}, True),
]


def seconds_per_step(name: str, kwargs: dict, channels_last: bool, size: int, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    model = build_detector(name, size, **kwargs).train()
    x, y = torch.randn(batch, 3, size, size), (torch.rand(batch, 1, size, size) > 0.8).float()
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], 1e-3)
    for step in range(steps + 2):  # two warm-up steps
        if step == 2:
            start = time.perf_counter()
        seg_loss(model(x), y).backward()
        optimiser.step()
        optimiser.zero_grad()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128, help="input side (downstream.train.input_size)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a downstream cell has 1 on 2 cores)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.size} px, batch {args.batch}, {args.threads} thread(s), mean of {args.steps} steps")
    for name, kwargs, channels_last in CONFIGS:
        seconds = seconds_per_step(name, kwargs, channels_last, args.size, args.batch, args.steps)
        layout = "channels-last" if channels_last else "contiguous"
        print(f"{name:15s} {str(kwargs):40s} {layout:14s} {seconds:.3f} s/step")


if __name__ == "__main__":
    main()
