"""DEAL-300K (Zhang et al., 2025, arXiv:2511.23377): MS-COCO images edited by InstructPix2Pix with
instructions from a fine-tuned Qwen-VL, masks from change detection (SAM-CD + active learning).

Layout (ymhzyj/DEAL-300K README and ``assets/examples``; ``train.zip``/``val.zip``/``test.zip`` hold
images, ``label.zip`` the masks, ``instructions/`` the prompts)::

    <split>/.../<cocoid>.jpg                 source image (12-digit COCO id)
    <split>/.../<cocoid>_qwen<ckpt>.jpg      edited image (<ckpt> = Qwen-VL checkpoint, 120 or 180)
    label/.../<cocoid>_qwen<ckpt>.png        ground-truth mask (same stem as the edited image)
    instructions/checkpoint-<ckpt>_dev_results.json   [{"image_name": "<cocoid>.jpg", "generated_text"}]

The folder structure inside the zips is not documented, so files are matched by name anywhere
under the root: a ``<cocoid>_qwen<ckpt>`` file in a ``label``/``mask``/``gt`` folder, or the ``.png``
beside a ``.jpg`` of the same stem, is the mask; the other is the edited image. The source is the
``<cocoid>`` image in the same folder as the edit, else anywhere. ``split`` is the first path
component when it is ``train``/``val``/``test`` (the paper reports the test split: point the root at
a prefix holding only ``test/``, ``label/`` and ``instructions/`` to score just that). Instructions
come from any ``checkpoint-<ckpt>*.json`` under the root, keyed by source name; "" where missing.
The HF copy (FlyHorseJ/DEAL-300K) was not inspected. Confidence: naming high, folders low.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath

from sigma.data.pairs import EditPair
from sigma.eval.benchmarks.base import register_benchmark
from sigma.eval.benchmarks.layout import (
    absolute_root,
    is_image,
    layout_error,
    list_root,
    make_pair,
    parts,
    read_json,
    stem,
)

NAME = "deal300k"
EXPECTED = "<split>/<cocoid>.jpg, <split>/<cocoid>_qwen<ckpt>.jpg and label/<cocoid>_qwen<ckpt>.png"
_EDIT = re.compile(r"^(?P<src>\d+)_qwen(?P<ckpt>\d+)$")
_CKPT = re.compile(r"checkpoint-(\d+)")
_MASK_DIRS = {"label", "labels", "mask", "masks", "gt", "groundtruth"}


def _is_mask(rel: str, group: list[str]) -> bool:
    if _MASK_DIRS & {p.lower() for p in parts(rel)[:-1]}:
        return True
    return rel.lower().endswith(".png") and any(not g.lower().endswith(".png") for g in group)


@register_benchmark(NAME)
def load_deal300k(root: str) -> Iterator[EditPair]:
    root = absolute_root(root)
    files = list_root(root, NAME, EXPECTED)
    groups: dict[str, list[str]] = {}
    sources: dict[str, list[str]] = {}
    for rel in filter(is_image, files):
        (groups if _EDIT.match(stem(rel)) else sources).setdefault(stem(rel), []).append(rel)
    if not groups:
        raise layout_error(NAME, root, f"images named <cocoid>_qwen<ckpt> ({EXPECTED})")
    prompts = {m[1]: r for r in files if r.lower().endswith(".json") and (m := _CKPT.search(parts(r)[-1]))}
    return _pairs(root, groups, sources, prompts)


def _pairs(root, groups, sources, prompt_files) -> Iterator[EditPair]:
    prompts: dict[str, dict[str, str]] = {}
    for name, group in sorted(groups.items()):
        masks = [r for r in group if _is_mask(r, group)]
        edits = [r for r in group if r not in masks]
        if not masks or not edits:
            continue  # no ground-truth mask (or no edited image beside it)
        match = _EDIT.match(name)
        assert match is not None  # groups holds only the names that match _EDIT
        src, ckpt = match["src"], match["ckpt"]
        folder = str(PurePosixPath(edits[0]).parent)
        candidates = sources.get(src, [])
        original = next(
            (r for r in candidates if str(PurePosixPath(r).parent) == folder),
            candidates[0] if candidates else str(PurePosixPath(folder) / f"{src}.jpg"),
        )
        if ckpt not in prompts:  # read each checkpoint's instruction file once, when first needed
            records = read_json(root, prompt_files[ckpt]) if ckpt in prompt_files else []
            prompts[ckpt] = {
                stem(r["image_name"]): r.get("generated_text", "")
                for r in records
                if isinstance(r, dict) and "image_name" in r
            }
        split = parts(edits[0])[0] if parts(edits[0])[0] in ("train", "val", "test") else None
        yield make_pair(
            NAME,
            root,
            f"{NAME}/{name}",
            original,
            edits[0],
            masks[0],
            prompts[ckpt].get(src, ""),
            split=split,
            coco_id=src,
            qwen_checkpoint=int(ckpt),
        )
