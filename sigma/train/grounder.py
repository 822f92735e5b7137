"""Training stage of the learned grounder: (image, category name, instance mask) triples.

The backbone and the sentence encoder are frozen, so the backbone features of every photo and
the embedding of every prompt are computed once; only the concept head trains. Held-out photos
(the ``val``/``test`` splits of :func:`sigma.data.synth.split_of`) give the mIoU of grounded
concept masks.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sigma.config import Params
from sigma.data.dataset import resized, to_tensor
from sigma.data.instructions import with_article
from sigma.data.photos import Instance, Photo, load_photos
from sigma.data.storage import write_json_atomic
from sigma.data.synth import fold_of, split_of
from sigma.model.backbones import build_backbone
from sigma.model.grounding.learned import HEAD_KEY, UPSAMPLE, VOCABULARY_KEY, ConceptMaskHead
from sigma.model.grounding.text_encoder import SentenceEncoder
from sigma.progress import LoggedProgress
from sigma.train.crossfit import FOLD_KEY
from sigma.train.losses import seg_loss

PROMPTS = ("{}", "a {}", "the {}")  # how parsers name concepts ("a cat", "cat", "the cat")


@dataclass
class Triple:
    photo: int
    category: str
    target: torch.Tensor  # (1, h, w) at the head's resolution, soft (area-resampled)
    mask: np.ndarray | None  # full-resolution bool mask (held-out scoring), None for negatives


def mirror(photo: Photo) -> Photo:
    """The photo and its instance masks flipped left-right."""
    return Photo(
        f"{photo.id}#flip",
        photo.image[:, ::-1].copy(),
        [Instance(i.category, i.mask[:, ::-1].copy()) for i in photo.instances],
        photo.source,
    )


def _prompt(category: str, variant: str) -> str:
    return with_article(category) if variant == "a {}" else variant.format(category)


@torch.no_grad()
def photo_features(backbone, photos: list[Photo], batch_size: int = 16) -> list[list[torch.Tensor]]:
    """Frozen backbone levels of each photo at the model's square input size."""
    size = (backbone.input_size, backbone.input_size)
    feats = []
    for start in range(0, len(photos), batch_size):
        images = resized([to_tensor(p.image) for p in photos[start : start + batch_size]], size)
        levels = backbone(images)
        feats += [[lv[i] for lv in levels] for i in range(len(images))]
    return feats


def build_triples(
    photos: list[Photo], head_size: tuple[int, int], negatives: int, vocabulary: list[str], rng: np.random.Generator
) -> list[Triple]:
    """One positive per (photo, category present): the union of its instances; plus ``negatives``
    absent categories with an all-zero target (so "not in the image" is learned too)."""
    triples = []
    for index, photo in enumerate(photos):
        by_category: dict[str, np.ndarray] = {}
        for inst in photo.instances:
            by_category[inst.category] = by_category.get(inst.category, False) | inst.mask
        for category, mask in sorted(by_category.items()):
            target = F.adaptive_avg_pool2d(torch.from_numpy(mask).float()[None], head_size)
            triples.append(Triple(index, category, target, mask))
        absent = [c for c in vocabulary if c not in by_category]
        for category in rng.permutation(absent)[:negatives] if absent else []:
            triples.append(Triple(index, str(category), torch.zeros(1, *head_size), None))
    return triples


@torch.no_grad()
def evaluate_head(
    head: ConceptMaskHead, feats, photos: list[Photo], triples: list[Triple], embed: dict, threshold: float = 0.5
) -> dict[str, float]:
    """mIoU over positive (image, concept) pairs at full resolution; false-find rate on negatives."""
    head.eval()
    ious, false_finds, negatives = [], 0, 0
    for t in triples:
        logits = head([f[None] for f in feats[t.photo]], embed[_prompt(t.category, "a {}")][None])
        prob = torch.sigmoid(logits)
        if t.mask is None:
            negatives += 1
            false_finds += int(prob.max() >= threshold)
            continue
        full = F.interpolate(prob, size=t.mask.shape, mode="bilinear", align_corners=False)[0, 0] > threshold
        gt = torch.from_numpy(t.mask)
        union = (full | gt).sum().item()
        ious.append((full & gt).sum().item() / union if union else 1.0)
    return {
        "miou": float(np.mean(ious)) if ious else float("nan"),
        "n_concepts": len(ious),
        "false_find_rate": false_finds / negatives if negatives else float("nan"),
    }


def fit_head(
    head: ConceptMaskHead, feats, train: list[Triple], embed: dict, cfg, rng: np.random.Generator, desc: str
) -> list[float]:
    """Train ``head`` on ``train`` triples (one-cycle AdamW, a random prompt form per triple); the losses."""
    optimiser = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * max(1, -(-len(train) // cfg.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=cfg.lr, total_steps=steps)
    n_levels = len(feats[0]) if feats else 0
    losses: list[float] = []
    with LoggedProgress(transient=True) as progress:
        task = progress.add_task(desc, total=steps)
        for _ in range(cfg.epochs):
            head.train()
            order = rng.permutation(len(train))
            for start in range(0, len(order), cfg.batch_size):
                batch = [train[i] for i in order[start : start + cfg.batch_size]]
                levels = [torch.stack([feats[t.photo][lv] for t in batch]) for lv in range(n_levels)]
                texts = torch.stack([embed[_prompt(t.category, PROMPTS[rng.integers(len(PROMPTS))])] for t in batch])
                loss = seg_loss(head(levels, texts), torch.stack([t.target for t in batch]))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                losses.append(loss.item())
                progress.advance(task)
    return losses


def train_fold_heads(
    head_builder, feats, photos: list[Photo], train: list[Triple], embed: dict, params: Params
) -> dict:
    """One head per fold of the training photos, trained without that fold and scored on it (the
    grounding quality the training stages then see); saved as ``fold<k>.safetensors`` in
    ``train_grounder.folds_out``, replaced as a whole."""
    cfg, model_cfg = params.train_grounder, params.model
    rng = np.random.default_rng([cfg.seed, cfg.folds])
    fold = [fold_of(p.id, cfg.folds) for p in photos]
    out = Path(cfg.folds_out)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    scores = []
    for k in range(cfg.folds):
        head = head_builder()
        fit_head(
            head, feats, [t for t in train if fold[t.photo] != k], embed, cfg, rng, f"grounder fold {k + 1}/{cfg.folds}"
        )
        own = [t for t in train if fold[t.photo] == k and not photos[t.photo].id.endswith("#flip")]
        scores.append(evaluate_head(head, feats, photos, own, embed, model_cfg.grounder.mask_threshold))
        _save_head(head, tmp / f"fold{k}.safetensors", model_cfg, {"fold": k, "folds": cfg.folds})
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    concepts = [s["n_concepts"] for s in scores]
    return {
        "folds": cfg.folds,
        # each fold's photos grounded by the head that never saw them, pooled over concepts
        "out_of_fold_miou": float(np.average([s["miou"] for s in scores], weights=concepts))
        if sum(concepts)
        else float("nan"),
        "out_of_fold_false_find_rate": float(np.nanmean([s["false_find_rate"] for s in scores])),
        "per_fold": scores,
    }


def train_grounder_stage(
    params: Params, out: str | Path | None = None, metrics: str | Path | None = None, track: bool = True
) -> dict:
    """Train the concept head, save it (safetensors) and return train/held-out metrics."""
    cfg, model_cfg, data = params.train_grounder, params.model, params.data
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    photos = [p for p in load_photos(data.sources, data.max_side) if p.instances]
    if not photos:
        raise FileNotFoundError("no photo with instance masks in data.sources: the grounder needs a COCO-format source")
    splits = [split_of(p.id, data.split.val, data.split.test) for p in photos]
    if cfg.flip:  # mirrored training photos: twice the layouts for the price of one frozen pass
        mirrored = [mirror(p) for p, s in zip(photos, splits, strict=True) if s == "train"]
        photos, splits = photos + mirrored, splits + ["train"] * len(mirrored)
    backbone = build_backbone(model_cfg.backbone)
    text = SentenceEncoder(model_cfg.grounder.text_encoder)

    def head_builder() -> ConceptMaskHead:
        return ConceptMaskHead(backbone.channels, text.dim, model_cfg.grounder.dim)

    head = head_builder()
    grid = backbone.grid()
    head_size = (grid[0] * UPSAMPLE, grid[1] * UPSAMPLE)

    feats = photo_features(backbone, photos)
    vocabulary = sorted({i.category for p in photos for i in p.instances})
    triples = build_triples(photos, head_size, cfg.negatives_per_image, vocabulary, rng)
    train = [t for t in triples if splits[t.photo] == "train"]
    held_out = [t for t in triples if splits[t.photo] != "train"]
    prompts = sorted({_prompt(c, v) for c in vocabulary for v in PROMPTS})
    embed = dict(zip(prompts, text(prompts), strict=True))

    losses = fit_head(head, feats, train, embed, cfg, rng, "training grounder head")
    threshold = model_cfg.grounder.mask_threshold
    summary = {
        "train": evaluate_head(head, feats, photos, train, embed, threshold),
        "held_out": evaluate_head(head, feats, photos, held_out, embed, threshold),
        "final_loss": float(np.mean(losses[-10:])) if losses else float("nan"),
        # IoU of predicting the whole image: the floor a useful head must clear
        "mean_target_area": float(np.mean([t.mask.mean() for t in train if t.mask is not None])),
        "n_photos": len(photos),
        "n_vocabulary": len(vocabulary),
        "n_train_triples": len(train),
        "n_held_out_triples": len(held_out),
    }
    # What the head was taught: the categories it saw present in a training photo (a category seen only in
    # held-out photos reached it as "absent" at most).
    taught = sorted({t.category for t in train if t.mask is not None})
    _save_head(head, Path(out or cfg.out), model_cfg, vocabulary=taught)
    if cfg.folds:
        summary["cross_fit"] = train_fold_heads(head_builder, feats, photos, train, embed, params)
    if metrics:
        write_json_atomic(str(metrics), summary)
    if track:
        from sigma.tracking import log_summary

        section = {"train_grounder": cfg.model_dump(mode="json"), "model": model_cfg.model_dump(mode="json")}
        log_summary("train_grounder", section, summary, stage="train_grounder")
    return summary


def _save_head(
    head: ConceptMaskHead, path: Path, model_cfg, fold: dict | None = None, vocabulary: list[str] | None = None
) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # The head shares no tensors, so a plain save_file of its state dict. One header key of sorted JSON:
    # safetensors writes several keys in hash order, so each save gave other bytes (and DVC a change).
    config = {
        "backbone": model_cfg.backbone.model_dump(mode="json"),
        "grounder": model_cfg.grounder.model_dump(mode="json"),
    }
    if fold is not None:
        config[FOLD_KEY] = fold
    if vocabulary is not None:  # the split trusts only these concepts' maps (LearnedGrounder.knows)
        config[VOCABULARY_KEY] = sorted(vocabulary)
    save_file(head.state_dict(), str(tmp), metadata={HEAD_KEY: json.dumps(config, sort_keys=True)})
    tmp.replace(path)
