"""Synthesise (original, edited, instruction, mask) datasets from photos with instance masks.

Five kinds, each a params section: ``inpaint`` (Stage I: exact-mask edits, unchanged and
drift-only pairs among them), ``edit`` (Stage II: mixed text-driven edits under regenerating-editor
drift), ``calib`` (original vs. its drifted copy, all-zero mask), ``dev`` (the real-photo dev
benchmark: edits of a photo source of its own at named drift levels) and ``downstream`` (the
downstream detectors' corpus: edits, unchanged pairs among them, at a size of its own). The output is a
deterministic function of the photos and the params.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import numpy as np
from cachetools import LRUCache

from sigma.config import DataParams, DevParams, SynthKindParams
from sigma.data import edits
from sigma.data.images import encode_png
from sigma.data.inpainters import build_inpainter
from sigma.data.pairs import SYNTH_KINDS, EditPair, write_manifest
from sigma.data.perturb import draw_strength, perturb
from sigma.data.photos import Instance, Photo
from sigma.data.segments import segment_instances
from sigma.data.workers import spawn_pool
from sigma.progress import LoggedProgress

KINDS = SYNTH_KINDS
TRAINING_KINDS = ("inpaint", "edit", "calib")  # what training reads; ``dev`` is a benchmark
INSTANCE_EDITS = ("remove", "recolour", "replace", "add", "copy_move")
SEGMENT_TRIES = 8  # photos drawn for a natural segment when no photo has annotated instances
MAX_SEGMENT_AREA = 0.3  # larger natural segments are background (sky, wall, floor), not objects
SEGMENT_CACHE = 256  # photos whose segments stay in memory (each a list of full-size masks)
PAIRS_PER_TASK = 4  # pairs a synthesis worker draws per task: fewer round trips, still balanced


def split_of(photo_id: str, val: float, test: float) -> str:
    """Deterministic split by photo, so no photo is in two splits (no leakage through originals)."""
    u = int(hashlib.sha1(photo_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if u < test else "val" if u < test + val else "train"


def fold_of(photo_id: str, folds: int) -> int:
    """Deterministic cross-fitting fold of a photo in ``range(folds)``; a mirrored copy
    (``<id>#flip``) shares its photo's fold. Independent of :func:`split_of`'s draw."""
    base = photo_id.split("#", 1)[0]
    return int(hashlib.sha1(f"fold:{base}".encode()).hexdigest()[:8], 16) % folds


def area_range(data: DataParams, params: SynthKindParams) -> tuple[float, float]:
    """The area shares an edited object or segment may cover: a dev benchmark's ``min_area``, or
    ``data.min_instance_area``, up to ``data.max_instance_area``."""
    low = params.min_area if isinstance(params, DevParams) else None
    return (data.min_instance_area if low is None else low), data.max_instance_area


def eligible(photo: Photo, area: tuple[float, float]) -> list[Instance]:
    return [i for i in photo.instances if area[0] <= i.area <= area[1]]


class Synthesiser:
    """Draws one edit per pair index from its own RNG stream ``(seed, index)``."""

    def __init__(self, photos: list[Photo], data: DataParams, params: SynthKindParams):
        self.photos, self.data, self.params = photos, data, params
        self.area = area_range(data, params)
        candidates = [(p, eligible(p, self.area)) for p in photos]
        self.with_instances = [(p, ins) for p, ins in candidates if ins]
        self.donors = [(p, i) for p, ins in self.with_instances for i in ins]
        self.splits = {p.id: split_of(p.id, data.split.val, data.split.test) for p in photos}
        # Per split, once: drawing a donor must not scan every photo or instance for each pair.
        self.photos_by_split: dict[str, list[Photo]] = {}
        self.donors_by_split: dict[str, list[tuple[Photo, Instance]]] = {}
        self.position_in_split: dict[str, int] = {}
        # (split, category) -> ascending positions of that category's donors in donors_by_split[split]
        self.category_positions: dict[tuple[str, str], list[int]] = {}
        for p in photos:
            group = self.photos_by_split.setdefault(self.splits[p.id], [])
            self.position_in_split[p.id] = len(group)
            group.append(p)
        for p, i in self.donors:
            split = self.splits[p.id]
            donors = self.donors_by_split.setdefault(split, [])
            self.category_positions.setdefault((split, i.category), []).append(len(donors))
            donors.append((p, i))
        self.inpaint = build_inpainter(params.inpaint_method, params.inpaint_model, params.inpaint_steps)
        self._segments: LRUCache = LRUCache(SEGMENT_CACHE)

    def split(self, photo: Photo) -> str:
        return self.splits[photo.id]

    def donor_for(self, split: str, category: str, rng: np.random.Generator) -> tuple[Photo, Instance]:
        """An object of another category to paste, from photos of the pair's own split (no held-out
        pixels in training); any donor when that split has none. The same draw as indexing the list
        of those donors, found by bisection instead of listing them for every pair."""
        donors = self.donors_by_split.get(split, [])
        same = self.category_positions.get((split, category), [])
        n_others = len(donors) - len(same)
        if n_others == 0:
            return self.donors[rng.integers(len(self.donors))]
        k = int(rng.integers(n_others))
        # The k-th other-category donor sits at the smallest j with k + 1 of them in donors[: j + 1].
        candidates = range(k, k + len(same) + 1)
        j = candidates[bisect_left(candidates, k + 1, key=lambda j: j + 1 - bisect_right(same, j))]
        return donors[j]

    def segments(self, photo: Photo) -> list[Instance]:
        """The photo's natural segments (:mod:`sigma.data.segments`), kept for the last
        :data:`SEGMENT_CACHE` photos asked about."""
        if photo.id not in self._segments:
            min_area, max_area = self.area[0], min(self.area[1], MAX_SEGMENT_AREA)
            self._segments[photo.id] = segment_instances(photo, min_area, max_area)
        return self._segments[photo.id]

    def segment_target(self, rng: np.random.Generator) -> tuple[Photo, Instance, Photo, Instance] | None:
        """A natural segment to edit and one to paste, from another photo of the same split;
        ``None`` when the drawn photos have none."""
        photo = self.photos[rng.integers(len(self.photos))]
        same_split = self.photos_by_split[self.split(photo)]  # in photo order, ``photo`` among them
        donor = photo
        if len(same_split) > 1:  # another photo of the split, drawn uniformly
            k = int(rng.integers(len(same_split) - 1))
            donor = same_split[k + (k >= self.position_in_split[photo.id])]
        targets, donated = self.segments(photo), self.segments(donor)
        if not targets or not donated:
            return None
        return photo, targets[rng.integers(len(targets))], donor, donated[rng.integers(len(donated))]

    @cached_property  # lazily: calibration pairs need no edit mix, even from mask-less sources
    def _edit_kinds(self) -> tuple[list[str], np.ndarray]:
        mix = {k: w for k, w in self.params.edit_mix.items() if w > 0}
        if not self.with_instances and not self.params.natural_segments:
            mix = {k: w for k, w in mix.items() if k not in INSTANCE_EDITS}
        if not mix:
            raise ValueError(
                "the sources have no instance masks in the allowed area range, and edit_mix "
                "asks only for instance edits: add a COCO source or allow 'global' edits"
            )
        kinds = sorted(mix)
        weights = np.array([mix[k] for k in kinds], float)
        return kinds, weights / weights.sum()

    def edit(self, rng: np.random.Generator) -> tuple[Photo, edits.Edit]:
        kinds, probs = self._edit_kinds
        kind = kinds[rng.choice(len(kinds), p=probs)]
        if kind == "none":
            return self.calib(rng)
        if kind == "global":
            photo = self.photos[rng.integers(len(self.photos))]
            return photo, edits.global_style(photo, rng)
        # Drawn only when asked for, so sources without segments keep their random streams.
        use_segment = not self.with_instances or (
            self.params.natural_segments > 0 and rng.random() < self.params.natural_segments
        )
        segment = self.segment_target(rng) if use_segment else None
        for _ in range(SEGMENT_TRIES if not self.with_instances else 0):
            segment = segment or self.segment_target(rng)
        if segment is None and not self.with_instances:
            raise ValueError("no photo has a natural segment in the allowed area range to edit")
        if segment is not None:
            photo, target, donor, donor_inst = segment
        else:
            photo, targets = self.with_instances[rng.integers(len(self.with_instances))]
            target = targets[rng.integers(len(targets))]
        if kind == "remove":
            edit = edits.remove(photo, target, rng, self.inpaint)
        elif kind == "recolour":
            edit = edits.recolour(photo, target, rng, self.params.attribute_mix, self.params.blur_sigma)
        elif kind == "copy_move":
            edit = edits.copy_move(photo, target, rng, self.inpaint)
        else:
            if segment is None:
                donor, donor_inst = self.donor_for(self.split(photo), target.category, rng)
            if kind == "replace":
                edit = edits.replace(photo, target, donor, donor_inst, rng, self.inpaint)
            else:
                edit = edits.add(photo, donor, donor_inst, rng)
        if rng.random() < self.params.side_effect_prob:
            bystander = self.donor_for(self.split(photo), target.category, rng) if self.donors else None
            edit = edits.add_side_effect(
                photo, edit, rng, self.params.side_effect_kinds, self.inpaint, bystander, self.params.blur_sigma
            )
        return photo, edit

    def calib(self, rng: np.random.Generator) -> tuple[Photo, edits.Edit]:
        photo = self.photos[rng.integers(len(self.photos))]
        blank = np.zeros(photo.image.shape[:2], bool)
        parsed = {"original": None, "edited": None, "action": None}
        return photo, edits.Edit(photo.image, blank, "", parsed, "none")


class PairJob:
    """Draws and writes pair ``index`` of one kind: a pure function of the index (its own RNG stream)."""

    def __init__(self, kind: str, synth: Synthesiser, params: SynthKindParams, vae, out: Path):
        self.kind, self.synth, self.params, self.vae, self.out = kind, synth, params, vae, out
        self.levels = sorted(params.levels.items(), key=lambda kv: kv[1]) if isinstance(params, DevParams) else []

    def __call__(self, index: int) -> EditPair:
        kind, params, synth, tmp = self.kind, self.params, self.synth, self.out
        rng = np.random.default_rng([params.seed, KINDS.index(kind), index])
        photo, edit = synth.calib(rng) if kind == "calib" else synth.edit(rng)
        if self.levels:  # dev: each drift level in turn
            level, (lo, hi) = self.levels[index % len(self.levels)]
            strength = float(rng.uniform(lo, hi))
            edit.extra["drift"] = level
        else:
            strength = draw_strength(rng, params.perturb)
        edited = perturb(edit.edited, strength, rng, params.perturb, self.vae)
        pair_id = f"{kind}-{index:06d}"
        (tmp / "images" / f"{pair_id}_o.png").write_bytes(encode_png(photo.image))
        (tmp / "images" / f"{pair_id}_e.png").write_bytes(encode_png(edited))
        (tmp / "masks" / f"{pair_id}.png").write_bytes(encode_png(edit.mask))
        side = {}
        if edit.side_effect is not None:
            side = {"side_effect_mask": f"masks/{pair_id}_side.png"}
            (tmp / side["side_effect_mask"]).write_bytes(encode_png(edit.side_effect))
        return EditPair(
            id=pair_id,
            original=f"images/{pair_id}_o.png",
            edited=f"images/{pair_id}_e.png",
            mask=f"masks/{pair_id}.png",
            instruction=edit.instruction,
            edit_type=edit.edit_type,
            source=photo.id,
            split=params.split if isinstance(params, DevParams) else synth.split(photo),
            kind=kind,
            parsed=edit.parsed,
            perturb_strength=round(strength, 4),
            mask_area=round(float(edit.mask.mean()), 5),
            **side,
            **edit.extra,
        )


_job: PairJob | None = None  # a synthesis worker's, built once by _start_job


def _start_job(kind: str, photos: list[Photo], data: DataParams, out: Path) -> None:
    global _job
    _job = build_job(kind, photos, data, out)


def _run_job(index: int) -> EditPair:
    assert _job is not None, "not a synthesis worker"
    return _job(index)


def build_job(kind: str, photos: list[Photo], data: DataParams, out: Path) -> PairJob:
    params: SynthKindParams = getattr(data, kind)
    vae = None
    if params.perturb.vae:
        from sigma.data.vae import load_vae

        vae = load_vae(params.perturb.vae)
    return PairJob(kind, Synthesiser(photos, data, params), params, vae, out)


def map_pairs(kind: str, photos: list[Photo], data: DataParams, out: Path, n: int) -> Iterator[EditPair]:
    """Pairs ``0 .. n-1`` of ``kind``, in order, each drawn on one torch thread: the VAE round trip's
    sums then run in one order, so the data depends neither on the machine's cores nor on
    ``data.processes``, the worker processes that draw pairs at once (one process: this one)."""
    import torch

    processes = min(data.processes, n)
    if processes > 1:
        with spawn_pool(processes, 1, _start_job, (kind, photos, data, out)) as pool:
            yield from pool.map(_run_job, range(n), chunksize=PAIRS_PER_TASK)
        return
    job = build_job(kind, photos, data, out)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield from map(job, range(n))
    finally:
        torch.set_num_threads(threads)


def synthesise(kind: str, photos: list[Photo], data: DataParams, out_dir: str | Path) -> dict:
    """Write ``n_pairs`` pairs of ``kind`` to ``out_dir`` (replaced atomically); returns a summary."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    params: SynthKindParams = getattr(data, kind)
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "images").mkdir(parents=True)
    (tmp / "masks").mkdir()
    pairs: list[EditPair] = []
    with LoggedProgress(transient=True) as progress:
        task = progress.add_task(f"synth {kind}", total=params.n_pairs)
        for pair in map_pairs(kind, photos, data, tmp, params.n_pairs if photos else 0):
            pairs.append(pair)
            progress.advance(task)
    write_manifest(str(tmp), pairs)
    summary = {
        "kind": kind,
        "n_pairs": len(pairs),
        "edit_types": dict(sorted(Counter(p.edit_type for p in pairs).items())),
        "splits": dict(sorted(Counter(p.split for p in pairs).items())),
        "side_effects": sum(1 for p in pairs if (p.model_extra or {}).get("side_effect")),
        "mean_mask_area": round(float(np.mean([(p.model_extra or {})["mask_area"] for p in pairs])), 5)
        if pairs
        else 0.0,
    }
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    # Swap by renames so a kill at any point leaves either the old or the new dataset in place.
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return summary
