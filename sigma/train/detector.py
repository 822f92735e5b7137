"""Train an IML detector from IMDL-BenCo ``JsonDataset`` files, as a user takes an annotated corpus to
a detector: ``[[image, mask], [image, "Negative"], ...]`` with paths relative to the file's folder
(``sigma annotate`` writes them so) or absolute. Only the files are read: what labelled them is
whatever wrote them.

One recipe for every detector and label source (``downstream.train``): AdamW, cosine schedule, BCE
+ Dice, random left-right flips, the images resized to a square once and held in memory. Each run
is one MLflow run (params, per-epoch loss and validation F1/IoU/false positives, the weights).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader, TensorDataset
from transformers import get_cosine_schedule_with_warmup

from sigma.config import DetectorSpec, DetectorTrainParams
from sigma.data import storage
from sigma.data.images import ImageDecodeError, decode_image, decode_mask
from sigma.eval.metrics import PixelScores
from sigma.model.detectors import Detector, build_detector, save_detector
from sigma.model.detectors.base import normalise, resize_image
from sigma.progress import LoggedProgress
from sigma.train.losses import seg_loss

NEGATIVE = "Negative"


class ImdlJsonError(ValueError):
    """An IMDL-BenCo file that cannot be read: says which file and entry."""


def read_imdl_json(path: str | Path) -> list[tuple[str, str | None]]:
    """``[(image, mask or None for a Negative)]`` with paths resolved against the file's folder."""
    path = Path(path)
    try:
        entries = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ImdlJsonError(f"{path}: not an IMDL-BenCo JSON list ({exc})") from None
    if not isinstance(entries, list):
        raise ImdlJsonError(f"{path}: expected a JSON list of [image, mask] entries")
    out = []
    for i, entry in enumerate(entries):
        if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(e, str) for e in entry)):
            raise ImdlJsonError(f"{path}: entry {i} is not [image, mask]: {entry!r}")
        image, mask = (storage.join(str(path.parent), e) if not Path(e).is_absolute() else e for e in entry)
        out.append((image, None if entry[1] == NEGATIVE else mask))
    return out


@dataclass
class ResizedSet:
    """``images`` uint8 ``(N, 3, S, S)``, ``masks`` uint8 ``(N, 1, S, S)`` in {0, 1}."""

    images: torch.Tensor
    masks: torch.Tensor

    @property
    def n_manipulated(self) -> int:
        return int(self.masks.flatten(1).any(1).sum())


def load_resized(entries: list[tuple[str, str | None]], size: int, what: str = "images") -> ResizedSet:
    """Every entry decoded and resized to ``size`` square (masks: nearest, so labels stay binary).

    Raises:
        ImdlJsonError: an image or mask of ``what`` is missing or cannot be decoded (named).
    """
    images = torch.empty(len(entries), 3, size, size, dtype=torch.uint8)
    masks = torch.zeros(len(entries), 1, size, size, dtype=torch.uint8)
    with LoggedProgress(transient=True) as bar:
        job = bar.add_task(f"reading {what}", total=len(entries))
        for i, (image_path, mask_path) in enumerate(entries):
            try:
                images[i] = resize_image(decode_image(storage.read_bytes(image_path), what=image_path), size)
                if mask_path is not None:
                    mask = torch.from_numpy(decode_mask(storage.read_bytes(mask_path)).astype(np.uint8))
                    masks[i, 0] = F.interpolate(mask[None, None].float(), size=(size, size), mode="nearest")[0, 0]
            except (storage.StorageError, ImageDecodeError) as exc:
                raise ImdlJsonError(f"{what}, entry {i}: {exc}") from None
            bar.advance(job)
    return ResizedSet(images, masks)


def score(model: Detector, data: ResizedSet, batch_size: int, threshold: float = 0.5) -> dict[str, float]:
    """F1/IoU over manipulated images and false positives on authentic ones, at the input size."""
    acc = PixelScores()
    model.eval()
    device = next(model.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(data.images), batch_size):
            images = data.images[start : start + batch_size].to(device)
            probs = torch.sigmoid(model(normalise(images)).float()).cpu().numpy()[:, 0]
            for prob, gt in zip(probs, data.masks[start : start + batch_size, 0].numpy(), strict=True):
                acc.add(prob > threshold, gt.astype(bool), prob)
    return acc.summary()


def train_detector(
    spec: DetectorSpec,
    recipe: DetectorTrainParams,
    train_json: str | Path,
    val_json: str | Path | None,
    out: str | Path,
    *,
    seed: int = 0,
    info: dict[str, Any] | None = None,
    track: bool = True,
    run_name: str | None = None,
) -> dict[str, Any]:
    """Train ``spec`` with ``recipe`` on ``train_json`` (validated each epoch on ``val_json`` when it
    lists images) and write the weights to ``out``; returns the last epoch's figures.

    Raises:
        ImdlJsonError: a file is unreadable or lists no image.
    """
    from sigma.tracking import maybe_run

    start = time.perf_counter()
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    set_seed(seed)
    train_entries = read_imdl_json(train_json)
    if not train_entries:
        raise ImdlJsonError(f"{train_json} lists no image: nothing to train on")
    val_entries = read_imdl_json(val_json) if val_json and Path(val_json).exists() else []
    train_set = load_resized(train_entries, recipe.input_size, str(train_json))
    val_set = load_resized(val_entries, recipe.input_size, str(val_json)) if val_entries else None

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    model = build_detector(spec.name, recipe.input_size, **spec.kwargs).to(memory_format=torch.channels_last)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        TensorDataset(train_set.images, train_set.masks),
        batch_size=recipe.batch_size,
        shuffle=True,
        generator=generator,
    )
    trained = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trained, lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps = recipe.epochs * len(loader)
    schedule = get_cosine_schedule_with_warmup(optimiser, min(steps // 10, 50), steps)
    model, optimiser, loader, schedule = accelerator.prepare(model, optimiser, loader, schedule)
    info = (info or {}) | {"seed": seed, "train_json": str(train_json), "recipe": recipe.model_dump(mode="json")}
    params = {"detector": spec.model_dump(mode="json"), "train": recipe.model_dump(mode="json"), "seed": seed}
    params |= {k: v for k, v in info.items() if k in ("label_source",)}
    history: list[dict[str, float]] = []
    with maybe_run(track, run_name or f"detector-{spec.name}", params, stage="downstream_train") as run:
        for epoch in range(recipe.epochs):
            model.train()
            losses = []
            for images, masks in loader:
                x, y = normalise(images), masks.float()
                if recipe.flip:
                    flip = torch.rand(len(x), generator=generator) < 0.5
                    x[flip], y[flip] = x[flip].flip(-1), y[flip].flip(-1)
                loss = seg_loss(model(x), y)
                accelerator.backward(loss)
                optimiser.step()
                schedule.step()
                optimiser.zero_grad()
                losses.append(loss.item())
            figures = {"loss": float(np.mean(losses))}
            if val_set is not None:
                val = score(accelerator.unwrap_model(model), val_set, recipe.batch_size)
                figures |= {f"val_{k}": v for k, v in val.items() if k in ("f1", "iou", "clean_fp_rate")}
            history.append(figures)
            if run is not None:
                import mlflow

                mlflow.log_metrics(figures, step=epoch)
        path = save_detector(accelerator.unwrap_model(model), out, spec.name, spec.kwargs, info)
        if run is not None:
            import mlflow

            mlflow.log_artifact(str(path))
    return {
        "weights": str(path),
        "n_train": len(train_entries),
        "n_train_manipulated": train_set.n_manipulated,
        "seconds": round(time.perf_counter() - start, 1),
        **history[-1],
    }
