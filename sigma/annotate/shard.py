"""Annotate one shard: decode in DataLoader workers, predict in batches, encode and write masks in
threads, commit. The unit that runs in-process or on a Ray worker (``sigma/annotate/run.py``)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from sigma.annotate.layout import OutputLayout, mask_name
from sigma.config import AnnotateParams
from sigma.data import storage
from sigma.data.images import DEFAULT_MAX_PIXELS, ImageDecodeError, decode_image, encode_png
from sigma.data.pairs import EditPair
from sigma.model.annotation import confidence, decide
from sigma.model.sigma import SigmaAnnotator


@dataclass(frozen=True)
class ShardTask:
    index: int
    pairs: list[EditPair]

    @property
    def digest(self) -> str:
        """Identifies the shard's content: a corpus that changed under ``--resume`` is detected."""
        return hashlib.sha1("\n".join(p.id for p in self.pairs).encode()).hexdigest()


def decode_pair(pair: EditPair, max_pixels: int, max_instruction_chars: int) -> dict[str, Any]:
    """``{"pair", "original", "edited"}`` arrays, or ``{"pair", "reason"}`` saying why it cannot be annotated."""
    extra = pair.model_extra or {}
    if extra.get("invalid_reason"):
        return {"pair": pair, "reason": f"invalid corpus record: {extra['invalid_reason']}"}
    if len(pair.instruction) > max_instruction_chars:
        return {"pair": pair, "reason": f"instruction longer than {max_instruction_chars} characters"}
    try:
        original = decode_image(storage.read_bytes(pair.original), max_pixels=max_pixels, what="original")
        edited = decode_image(storage.read_bytes(pair.edited), max_pixels=max_pixels, what="edited")
    except storage.TransientStorageError:
        raise  # not the pair's fault: the shard fails uncommitted and --resume reads the pair again
    except (storage.StorageError, ImageDecodeError) as exc:
        return {"pair": pair, "reason": str(exc)}
    if original.shape != edited.shape:
        return {
            "pair": pair,
            "reason": f"size mismatch: original {original.shape[1]}x{original.shape[0]}, "
            f"edited {edited.shape[1]}x{edited.shape[0]}",
        }
    # Tensors, not arrays: DataLoader workers hand tensors over in shared memory instead of pickling them.
    return {"pair": pair, "original": torch.from_numpy(original), "edited": torch.from_numpy(edited)}


class ShardPairs(Dataset):
    def __init__(self, pairs: list[EditPair], max_pixels: int, max_instruction_chars: int):
        self.pairs, self.max_pixels, self.max_chars = pairs, max_pixels, max_instruction_chars

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return decode_pair(self.pairs[index], self.max_pixels, self.max_chars)


HOLD_ENV = "SIGMA_TEST_HOLD"  # e.g. "before-commit:3": where a test kills the run (see hold_for_test)


def hold_for_test(point: str, shard: int) -> None:
    """Test hook for deterministic kills: when ``$SIGMA_TEST_HOLD`` is ``"<point>:<shard>"``, write
    ``$SIGMA_TEST_HOLD_FILE`` and block until killed, so a test's SIGKILL lands exactly there
    instead of racing the clock. Does nothing otherwise."""
    if os.environ.get(HOLD_ENV) != f"{point}:{shard}":
        return
    Path(os.environ[f"{HOLD_ENV}_FILE"]).write_text(point)
    threading.Event().wait()


def _keep_items(batch: list[dict]) -> list[dict]:
    return batch


def _encode_and_write(out: OutputLayout, staging, rel: str, mask: np.ndarray) -> None:
    out.write_mask(staging, rel, encode_png(mask))  # zlib releases the GIL: encoding overlaps inference


def _record(
    pair: EditPair,
    area: float,
    side_area: float,
    score: float,
    size: tuple[int, int],
    mask_rel: str,
    side_rel: str | None,
    intended_rel: str | None,
    unknown_split: str | None,
    parsed,
    prior: str,
    model_info: dict,
    shard: int,
) -> dict:
    return {
        "id": pair.id,
        "original": pair.original,
        "edited": pair.edited,
        "instruction": pair.instruction,
        "edit_type": pair.edit_type,
        "split": pair.split,
        "parsed": parsed.model_dump(),
        "prior": prior,
        "mask": mask_rel,
        "mask_side": side_rel,
        "mask_intended": intended_rel,
        # The intended / side-effect split holds only where the instruction was grounded; else both are null
        # and the reason says why (masks_side/ and the intended export then leave the pair alone).
        "split_known": unknown_split is None,
        "split_unknown_reason": unknown_split,
        "area": round(area, 6),
        "side_area": round(side_area, 6) if unknown_split is None else None,
        "score": round(score, 6),
        "height": size[0],
        "width": size[1],
        "model_uri": model_info["uri"],
        "model_version": model_info["version"],
        "shard": shard,
    }


def _masks(
    logits: torch.Tensor, intent: torch.Tensor, threshold: float, config: Any, unknown_split: str | None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Logits ``(2, H, W)`` (edit, attribution) and the intent map ``(H, W)`` -> edit and side-effect
    masks ``(H, W)`` bool (no side effect where the split is unknown) and the confidence ``mean |2p - 1|``;
    ``config``: the model's (its attribution threshold and smallest region)."""
    mask, side, edit_prob = decide(
        logits, intent, threshold, config.intended_threshold, unknown_split is None, config.postprocess.min_region
    )
    return mask, np.zeros_like(mask) if side is None else side, confidence(edit_prob)


def annotate_shard(
    model: SigmaAnnotator,
    task: ShardTask,
    out: OutputLayout,
    cfg: AnnotateParams,
    model_info: dict,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_instruction_chars: int = 512,
    progress=None,
) -> dict:
    """Annotate and commit ``task``; returns its marker (counts, digest, seconds).

    ``model`` is fused for inference in place (its weights digest must be taken before)."""
    start, started_at = time.perf_counter(), time.time()
    model.fuse_for_inference()
    staging = out.staging(task.index)
    records: list[dict] = []
    rejects: list[dict] = []
    device = next(model.parameters()).device
    loader = DataLoader(
        ShardPairs(task.pairs, max_pixels, max_instruction_chars),
        batch_size=cfg.batch_size,
        num_workers=cfg.workers,
        collate_fn=_keep_items,
        pin_memory=device.type == "cuda",
    )
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    threshold = model_info["threshold"]
    with ThreadPoolExecutor(cfg.write_threads) as pool:
        writes = []
        for batch in loader:
            good = [item for item in batch if "reason" not in item]
            rejects += [
                {
                    "id": i["pair"].id,
                    "original": i["pair"].original,
                    "edited": i["pair"].edited,
                    "reason": i["reason"],
                    "shard": task.index,
                }
                for i in batch
                if "reason" in i
            ]
            triples = [(i["original"].numpy(), i["edited"].numpy(), i["pair"].instruction) for i in good]
            with torch.inference_mode(), autocast:
                outputs = [
                    (*_masks(logits, intent, threshold, model.config, unknown), parsed, unknown)
                    for logits, intent, parsed in model.iter_outputs(triples, batch_size=cfg.batch_size)
                    for unknown in [model.prior.unknown_split_reason(parsed, intent)]
                ]
            for item, (mask, side, score, parsed, unknown_split) in zip(good, outputs, strict=True):
                name = mask_name(item["pair"].id)
                split = unknown_split is None and side.any()
                mask_rel = f"masks/{name}"
                side_rel, intended_rel = (f"masks_side/{name}", f"masks_intended/{name}") if split else (None, None)
                records.append(
                    _record(
                        item["pair"],
                        float(mask.mean()),
                        float(side.mean()),
                        score,
                        mask.shape,
                        mask_rel,
                        side_rel,
                        intended_rel,
                        unknown_split,
                        parsed,
                        model.prior.source(parsed),
                        model_info,
                        task.index,
                    )
                )
                writes.append(pool.submit(_encode_and_write, out, staging, mask_rel, mask))
                if side_rel and intended_rel:  # the split is known and found a side effect
                    writes.append(pool.submit(_encode_and_write, out, staging, side_rel, side))
                    writes.append(pool.submit(_encode_and_write, out, staging, intended_rel, mask & ~side))
            if progress is not None:
                progress(len(batch))
        for write in writes:
            write.result()  # a failed write fails the shard before its commit
    marker = {
        "shard": task.index,
        "digest": task.digest,
        "pairs": len(task.pairs),
        "annotated": len(records),
        "rejected": len(rejects),
    }
    hold_for_test("before-commit", task.index)
    out.commit(task.index, staging, records, rejects, marker)
    hold_for_test("after-commit", task.index)
    # The times go to the caller, not into OUT: OUT's bytes depend on the corpus and model only. The
    # wall-clock ends let the caller measure shards that ran at once, in other processes.
    return marker | {
        "seconds": round(time.perf_counter() - start, 3),
        "started_at": started_at,
        "finished_at": time.time(),
    }
