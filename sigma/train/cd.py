"""The learned change-detection baseline: a Siamese network on SIGMA's frozen backbone, trained by
Stage I on the same data with the same budget (``change_detection`` in params.yaml)."""

from __future__ import annotations

from pathlib import Path

from sigma.config import Params, with_overrides
from sigma.train.stage1 import train_stage1


def change_detection_params(params: Params) -> Params:
    """``params`` with the baseline's model and its own output folder; every other value (data,
    ``stage1`` epochs, lr, batch) as SIGMA's Stage I has it."""
    cfg = params.change_detection
    return params.model_copy(
        update={
            "model": with_overrides(params.model, cfg.model),
            "stage1": params.stage1.model_copy(update={"out": str(Path(cfg.checkpoint).parent)}),
        }
    )


def train_change_detection(
    params: Params, resume: bool = False, track: bool = True, metrics: str | Path | None = None
) -> dict:
    """Train the baseline into ``change_detection.out/sigma.safetensors``; its Stage I summary."""
    return train_stage1(
        change_detection_params(params), resume=resume, track=track, metrics=metrics, run_name="change_detection"
    )
