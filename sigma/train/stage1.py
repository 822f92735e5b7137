"""Stage I: supervised training on inpainting pairs with exact masks (``L_seg = BCE + Dice``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import torch
from torch.optim.swa_utils import AveragedModel

from sigma.config import Params, Stage1Params
from sigma.data.dataset import EditPairDataset
from sigma.data.storage import write_json_atomic
from sigma.eval.heldout import score_split
from sigma.model.build import build_sigma
from sigma.model.checkpoint import save_checkpoint
from sigma.train import loop
from sigma.train.batches import pixels
from sigma.train.losses import attribution_loss, seg_loss

INPAINT, EDIT, CALIB = "data/synth/inpaint", "data/synth/edit", "data/synth/calib"


def supervised_terms(model, batch: dict, attribution_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """``L_seg`` on the edit channel plus the attribution loss where the side-effect split is known;
    logits at the batch's full-resolution view (the refiner is trained here)."""
    logits = model(batch["original"], batch["edited"], batch["intent"], pixels=pixels(batch))
    seg = seg_loss(logits[:, :1], batch["mask"])
    attr = attribution_loss(logits[:, 1:], batch["mask"], batch["side_effect"], batch["knows_side_effect"])
    return seg + attribution_weight * attr, {"seg": seg.item(), "attribution": attr.item()}


def held_out_scores(model, split: str = "test") -> dict[str, dict]:
    """The numbers the stages are compared on: held-out ``edit`` pairs and the calibration pairs."""
    return {"edit": score_split(model, EDIT, split), "calib": score_split(model, CALIB, split)}


def log_epoch(name: str):
    import mlflow

    def log(metrics: dict, step: int) -> None:
        if mlflow.active_run():
            mlflow.log_metrics({f"{name}.{k}": float(v) for k, v in metrics.items()}, step=step)

    return log


def weight_average(model: torch.nn.Module, cfg: Stage1Params, device) -> AveragedModel | None:
    """The running mean of the end-of-epoch weights that ``stage1.average_last`` asks for (buffers
    too), updated by :func:`update_average`; None when the last step's weights are kept."""
    if not cfg.averaged_epochs():
        return None
    return AveragedModel(model, device=device, use_buffers=True)


def update_average(average: AveragedModel | None, model: torch.nn.Module, epoch: int, cfg: Stage1Params) -> None:
    """Add the weights at the end of 0-based ``epoch`` when it is one of the averaged final epochs."""
    if average is not None and epoch >= cfg.epochs - cfg.averaged_epochs():
        average.update_parameters(model)


def averaged(average: AveragedModel | None, model: loop.ModelT) -> loop.ModelT:
    """The model to save: the average (a copy of ``model``) when it holds any epoch (a ``max_steps``
    run may end before the first averaged epoch does), else ``model``."""
    return cast(loop.ModelT, average.module) if average is not None and int(average.n_averaged) else model


def train_stage1(
    params: Params,
    resume: bool = False,
    track: bool = True,
    metrics: str | Path | None = None,
    run_name: str = "stage1",
    score: bool = True,
) -> dict:
    """Train from scratch (frozen backbone and grounder), save ``stage1.out/sigma.safetensors``;
    ``run_name`` names the MLflow run and its stage tag (other models trained the Stage I way).
    ``score=False`` skips the per-epoch validation and held-out scores, for models that a later
    stage scores anyway (the ablation variants)."""
    from sigma.tracking import maybe_run

    cfg = params.stage1
    loop.require_valid([INPAINT, EDIT, CALIB], params.validate_)
    acc = loop.accelerator(cfg)
    model = build_sigma(params.model, params.parse)
    loader, sampler, items = loop.train_loader(model, INPAINT, "train", cfg)
    has_val = score and len(EditPairDataset(INPAINT, split="val")) > 0
    opt, schedule = loop.optimiser(model, cfg, cfg.epochs * len(loader))
    average = weight_average(model, cfg, acc.device)
    history: list[dict] = []

    def on_epoch_end(m, epoch: int, step: int) -> None:
        update_average(average, acc.unwrap_model(m), epoch, cfg)
        if has_val:  # whole pairs through the annotator (the model that would be saved): the inference setting
            scores = score_split(averaged(average, m), INPAINT, "val") | {"epoch": epoch}
            history.append(scores)
            log_epoch("val")(scores, step)

    with maybe_run(track, run_name, params.model_dump(mode="json", include={"model", "stage1"}), stage=run_name):
        model, position = loop.fit(
            acc,
            model,
            opt,
            schedule,
            loader,
            sampler,
            items,
            cfg,
            lambda m, b, _: supervised_terms(m, b, cfg.attribution_weight),
            resume=resume,
            desc="stage I",
            on_epoch_end=on_epoch_end,
            extra_state=() if average is None else (average,),
        )
        model = averaged(average, model)
        summary: dict[str, Any] = {
            "steps": position.step,
            "epochs_done": position.epoch,
            "val": history[-1] if history else {},
            "held_out": held_out_scores(model) if score else {},
        }
        path = save_checkpoint(model, Path(cfg.out) / loop.CHECKPOINT, parser=params.parse)
        if metrics:
            write_json_atomic(str(metrics), summary)
        for split, scores in summary["held_out"].items():
            log_epoch(f"held_out.{split}")(scores, position.step)
        if track:
            import mlflow

            from sigma.tracking import input_tags

            mlflow.set_tags(input_tags([INPAINT, EDIT, CALIB, params.model.grounder.weights or ""]))
            mlflow.log_artifact(str(path), "checkpoint")
            mlflow.log_dict(params.model_dump(mode="json"), "params.json")
    return summary
