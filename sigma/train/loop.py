"""What both SIGMA training stages share: accelerate set-up, optimiser, resumable state, logging."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from torch.utils.data import DataLoader
from transformers import get_cosine_schedule_with_warmup

from sigma.config import TrainParams, ValidateParams
from sigma.data.dataset import EditPairDataset
from sigma.progress import LoggedProgress
from sigma.train.batches import EpochSampler, TrainPairs, collate, train_pairs

STATE_DIR = "state"  # under the stage's out folder: the resumable accelerate state
CHECKPOINT = "sigma.safetensors"
ModelT = TypeVar("ModelT", bound=torch.nn.Module)  # fit returns the model it was given, unwrapped


@dataclass
class RunPosition:
    """Where a run is: registered with accelerate so ``--resume`` restores it with the rest."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        self.__dict__.update(state)


def accelerator(cfg: TrainParams) -> Accelerator:
    """CPU or GPU(s) with the same code; mixed precision only where there is a GPU."""
    set_seed(cfg.seed)
    use_gpu = torch.cuda.is_available()
    return Accelerator(cpu=not use_gpu, mixed_precision=cfg.mixed_precision if use_gpu else "no")


def optimiser(model: torch.nn.Module, cfg: TrainParams, total_steps: int):
    """AdamW over the trainable parameters and a cosine schedule (after ``warmup_steps``)."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    return opt, get_cosine_schedule_with_warmup(opt, cfg.warmup_steps, max(1, total_steps))


def require_valid(datasets: list[str], params: ValidateParams) -> None:
    """Run the validation suite on the training inputs (once per content: :func:`validate_once`); a
    failure stops training before it starts."""
    from sigma.data.validate import validate_once

    for dataset in datasets:
        if not (Path(dataset) / "manifest.jsonl").exists() and "://" not in dataset:
            raise FileNotFoundError(f"{dataset}/manifest.jsonl not found: run `dvc repro` for the data stages first")
        report = validate_once(dataset, params)
        if not report.success:
            raise ValueError(f"training input fails validation; regenerate or fix it:\n{report.format()}")


def train_loader(model, dataset: str, split: str, cfg: TrainParams) -> tuple[DataLoader, EpochSampler, TrainPairs]:
    """Shuffled, augmented batches of ``dataset``'s ``split`` with their intent maps."""
    pairs = EditPairDataset(dataset, split=split)
    if not len(pairs):
        raise ValueError(f"{dataset} has no {split!r} pairs: run `dvc repro` for the data stages first")
    items = train_pairs(model, pairs, cfg)
    sampler = EpochSampler(len(items), cfg.seed)
    loader = DataLoader(items, batch_size=cfg.batch_size, sampler=sampler, collate_fn=collate, drop_last=True)
    if not len(loader):
        raise ValueError(f"{dataset} ({split}) has {len(items)} pairs, fewer than one batch of {cfg.batch_size}")
    return loader, sampler, items


def progress_bar() -> LoggedProgress:
    return LoggedProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}  {task.fields[rate]:.2f} steps/s"),
        TimeRemainingColumn(),
        transient=True,
    )


def state_dir(cfg: TrainParams) -> Path:
    return Path(cfg.out) / STATE_DIR


def fit(
    acc: Accelerator,
    model: ModelT,
    opt,
    schedule,
    loader: DataLoader,
    sampler: EpochSampler,
    items: TrainPairs,
    cfg: TrainParams,
    step_fn,
    *,
    resume: bool,
    desc: str,
    after_step=None,
    on_epoch_end=None,
    extra_state: tuple = (),
) -> tuple[ModelT, RunPosition]:
    """Run ``cfg.epochs`` (or ``cfg.max_steps``) optimiser steps of ``step_fn(model, batch, step) ->
    (loss, {term: value})``, saving a resumable accelerate state every ``checkpoint_every`` steps
    and at the end. ``resume`` continues from that state exactly where it stopped."""
    import mlflow

    position = RunPosition()
    acc.register_for_checkpointing(position)
    for obj in extra_state:
        acc.register_for_checkpointing(obj)
    model, opt, prepared, schedule = acc.prepare(model, opt, loader, schedule)
    where = state_dir(cfg)
    if resume and (where / "custom_checkpoint_0.pkl").exists():
        acc.load_state(str(where))
    stop = min(cfg.epochs * len(loader), cfg.max_steps or cfg.epochs * len(loader))
    trainable = [p for p in model.parameters() if p.requires_grad]

    with progress_bar() as bar:
        task = bar.add_task(desc, total=stop, completed=position.step, loss=float("nan"), rate=0.0)
        while position.epoch < cfg.epochs and position.step < stop:
            sampler.set_epoch(position.epoch)
            items.set_epoch(position.epoch)
            skip = position.batch_in_epoch
            batches = acc.skip_first_batches(prepared, skip) if skip else prepared
            # accelerate re-seeds the sampler from its own iteration count on every __iter__;
            # align it, or a resumed process (count 0) would replay epoch 0's order
            batches.set_epoch(position.epoch)
            finished_epoch = True
            for batch in batches:
                started = time.perf_counter()
                model.train()
                loss, terms = step_fn(model, batch, position.step)
                opt.zero_grad()
                acc.backward(loss)
                if cfg.grad_clip:
                    acc.clip_grad_norm_(trainable, cfg.grad_clip)
                opt.step()
                schedule.step()
                position.step += 1
                position.batch_in_epoch += 1
                if after_step:
                    after_step(model)
                if acc.is_main_process and mlflow.active_run():
                    mlflow.log_metrics(
                        {"loss": loss.item(), **terms, "lr": schedule.get_last_lr()[0]}, step=position.step
                    )
                bar.update(task, completed=position.step, loss=loss.item(), rate=1 / (time.perf_counter() - started))
                if position.step % cfg.checkpoint_every == 0:
                    acc.save_state(str(where), safe_serialization=False)
                if position.step >= stop:
                    finished_epoch = position.batch_in_epoch >= len(loader)
                    break
            if finished_epoch:
                if on_epoch_end:
                    on_epoch_end(model, position.epoch, position.step)
                position.epoch += 1
                position.batch_in_epoch = 0
    acc.save_state(str(where), safe_serialization=False)
    return acc.unwrap_model(model), position
