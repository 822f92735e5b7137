"""Stage II: noise-calibrated adaptation on unlabeled text-driven edits (sigma-method.md).

Per step: ``L_seg`` on an inpainting batch; on an ``edit`` batch (its masks are never read) the
EMA teacher's confident pseudo-labels (``L_pl``); VAE round-trip copies of the originals as
all-zero pairs (``L_calib``); and the edit-noise disentanglement hinge (``L_dis``) between the
|f_o - f_e| difference vectors of the edit pair and of the round-trip pair.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from sigma.config import Params, Stage2Params
from sigma.data.dataset import EditPairDataset, resized
from sigma.data.storage import write_json_atomic
from sigma.data.vae import load_vae, round_trip
from sigma.eval.heldout import score_round_trips
from sigma.model.blocks import resample
from sigma.model.checkpoint import load_checkpoint, save_checkpoint
from sigma.train import loop
from sigma.train.attribution import pick_intended_threshold, sweep_intended_threshold
from sigma.train.batches import TrainPairs, collate, pixels, train_pairs
from sigma.train.stage1 import EDIT, INPAINT, held_out_scores, log_epoch, supervised_terms


def pseudo_label_loss(
    student_logits: torch.Tensor, teacher_prob: torch.Tensor, high: float, low: float
) -> torch.Tensor:
    """BCE against the teacher's soft labels, only where it is confident (``> high`` or ``< low``)."""
    confident = ((teacher_prob > high) | (teacher_prob < low)).to(student_logits.dtype)
    if not confident.any():
        return student_logits.sum() * 0
    bce = F.binary_cross_entropy_with_logits(student_logits, teacher_prob.detach(), reduction="none")
    return (bce * confident).sum() / confident.sum()


def disentanglement_loss(d_edit: torch.Tensor, d_noise: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """``(1/|P|) sum_i P_i max(0, <d_edit_i, d_noise_i>)`` over tokens ``(B, N, C)``; ``support``
    ``(B, N)`` in [0, 1] (the predicted edit probability). Vectors are L2-normalised first (our
    choice: the hinge then bounds the cosine, independent of feature scale)."""
    cosine = (F.normalize(d_edit, dim=-1) * F.normalize(d_noise, dim=-1)).sum(-1)
    weight = support.detach()
    return (weight * cosine.clamp(min=0)).sum() / weight.sum().clamp(min=1e-6)


def calibration_loss(logits: torch.Tensor) -> torch.Tensor:
    """``BCE(f, 0)``: a round-trip pair has nothing to mark."""
    return F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))


class Stage2Step:
    """One Stage II step; draws its noise and its inpainting batch from ``(seed, step)``."""

    def __init__(self, cfg: Stage2Params, teacher: AveragedModel, vae, inpaint: TrainPairs, eps: float):
        self.cfg, self.teacher, self.vae, self.inpaint, self.eps = cfg, teacher, vae, inpaint, eps

    def inpaint_batch(self, step: int, device) -> dict:
        rng = np.random.default_rng([self.cfg.seed, step])
        self.inpaint.set_epoch(step)
        idx = rng.choice(len(self.inpaint), size=min(self.cfg.batch_size, len(self.inpaint)), replace=False)
        batch = collate([self.inpaint[int(i)] for i in idx])
        return {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}

    def __call__(self, model, batch: dict, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        cfg, w = self.cfg, self.cfg.loss_weights
        o, e, intent = batch["original"], batch["edited"], batch["intent"]
        po, pe = pixels(batch)
        b = o.shape[0]
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        sigma = torch.rand(b, generator=gen) * cfg.sigma_max
        po_hat = round_trip(self.vae, po, sigma, generator=gen)  # at full resolution, as an editor decodes
        o_hat = resized(list(po_hat), tuple(o.shape[-2:]))
        uniform = torch.full_like(intent, self.eps)  # a round trip comes with no instruction
        out = model.forward_features(
            torch.cat([o, o]),
            torch.cat([e, o_hat]),
            torch.cat([intent, uniform]),
            pixels=(torch.cat([po, po]), torch.cat([pe, po_hat])),
        )
        logits_edit, logits_calib = out["logits"][:b, :1], out["logits"][b:, :1]
        with torch.no_grad():
            teacher_prob = torch.sigmoid(self.teacher.module(o, e, intent, pixels=(po, pe))[:, :1])
        levels = out["changes"][:, cfg.dis_level]  # (2B, N, C): |f_o - f_e| projections
        grid = getattr(model, "module", model).backbone.grid(tuple(o.shape[-2:]))  # DDP wraps the model
        support = resample(torch.sigmoid(logits_edit), grid).flatten(1)
        terms = {
            "pl": pseudo_label_loss(logits_edit, teacher_prob, cfg.confident_high, cfg.confident_low),
            "calib": calibration_loss(logits_calib),
            "dis": disentanglement_loss(levels[:b], levels[b:], support),
        }
        seg, seg_terms = supervised_terms(model, self.inpaint_batch(step, o.device), cfg.attribution_weight)
        total = w.get("seg", 0) * seg + sum(w.get(k, 0) * v for k, v in terms.items())
        return total, {**seg_terms, **{k: v.item() for k, v in terms.items()}}


def round_trip_scores(model, vae, params: Params) -> dict[str, float]:
    """False positives on VAE round trips of the held-out ``edit`` originals."""
    return score_round_trips(model, vae, EDIT, "test", params.stage2.sigma_max, seed=params.stage2.seed)


def train_stage2(
    params: Params,
    resume: bool = False,
    track: bool = True,
    metrics: str | Path | None = None,
    register: str | None = "sigma-annotator",
) -> dict:
    """Adapt the Stage I model; save ``stage2.out/sigma.safetensors``; register a pyfunc version."""
    from sigma.tracking import maybe_run

    cfg = params.stage2
    start = Path(params.stage1.out) / loop.CHECKPOINT
    if not start.exists():
        raise FileNotFoundError(f"Stage I checkpoint {start} not found: run `sigma train stage1` (dvc repro stage1)")
    loop.require_valid([INPAINT, EDIT], params.validate_)
    acc = loop.accelerator(cfg)
    model = load_checkpoint(start)
    vae = load_vae(params.vae.out).to(acc.device)
    before = held_out_scores(model) | {"round_trip": round_trip_scores(model, vae, params)}
    loader, sampler, items = loop.train_loader(model, EDIT, "train", cfg)
    inpaint_pairs = EditPairDataset(INPAINT, split="train")
    inpaint = train_pairs(model, inpaint_pairs, cfg)
    teacher = AveragedModel(
        model, device=acc.device, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_momentum), use_buffers=True
    )
    opt, schedule = loop.optimiser(model, cfg, cfg.epochs * len(loader))
    step_fn = Stage2Step(cfg, teacher, vae, inpaint, params.model.eps)

    with maybe_run(track, "stage2", params.model_dump(mode="json", include={"model", "stage2", "vae"}), stage="stage2"):
        model, position = loop.fit(
            acc,
            model,
            opt,
            schedule,
            loader,
            sampler,
            items,
            cfg,
            step_fn,
            resume=resume,
            desc="stage II",
            after_step=teacher.update_parameters,
            extra_state=(teacher,),
        )
        summary: dict[str, Any] = {
            "steps": position.step,
            "epochs_done": position.epoch,
            "held_out_stage1": before,
            "held_out": held_out_scores(model) | {"round_trip": round_trip_scores(model, vae, params)},
            "held_out_ema_teacher": held_out_scores(teacher.module),
        }
        if cfg.intended_thresholds:
            sweep = sweep_intended_threshold(model, [INPAINT, EDIT], cfg.intended_thresholds)
            model.config = model.config.model_copy(
                update={"intended_threshold": pick_intended_threshold(sweep, model.config.intended_threshold)}
            )
            summary["intended_threshold"] = model.config.intended_threshold
            summary["intended_threshold_val"] = {str(t): s for t, s in sweep.items()}
        path = save_checkpoint(model, Path(cfg.out) / loop.CHECKPOINT, parser=params.parse)
        for split in ("edit", "calib", "round_trip"):
            log_epoch(f"held_out.{split}")(summary["held_out"][split], position.step)
        if track:
            import mlflow

            from sigma.model.pyfunc import log_annotator, registered_version
            from sigma.tracking import input_tags

            vae_weights = f"{params.vae.out}/diffusion_pytorch_model.safetensors"
            mlflow.set_tags(input_tags([INPAINT, EDIT, str(start), vae_weights]))
            mlflow.log_artifact(str(path), "checkpoint")
            mlflow.log_dict(params.model_dump(mode="json"), "params.json")
            info = log_annotator(model, registered_model_name=register)
            if register:
                summary["registered_version"] = int(registered_version(register, info.run_id))
                mlflow.set_tag("registered_version", summary["registered_version"])
        if metrics:  # the registry's version number is this registry's history: MLflow's, not git's
            write_json_atomic(str(metrics), {k: v for k, v in summary.items() if k != "registered_version"})
    return summary
