"""MagicBrush (Zhang et al., NeurIPS 2023 D&B): crowd-annotated instruction edits of COCO images
made with DALL-E 2 inside a free-form mask the annotator painted; single- and multi-turn.

Layout of the test set (OSU-NLP-Group/MagicBrush README, ``test.zip``; dev/train use the same
structure), as read e.g. by InstructMove/Qwen-Image-Edit evaluation scripts::

    [<split>/]edit_sessions.json      {"<img_id>": [{"input", "mask", "output", "instruction"}, ...]}
    [<split>/]images/<img_id>/<img_id>-input.png      turn-1 source (later turns: previous output)
    [<split>/]images/<img_id>/<img_id>-output<t>.png  edited image of turn t
    [<split>/]images/<img_id>/<img_id>-mask<t>.png    mask of turn t

``edit_sessions.json`` may sit in the root or in one sub-folder per split (``test/``, ``dev/``);
every one found is read and its folder name becomes ``split``. One pair per turn: ``original`` =
that turn's input, ``edited`` = its output, ``instruction`` = its instruction.

Ground truth: the turn's ``mask`` image, i.e. the region the annotator painted and DALL-E 2 was
allowed to regenerate (HF card: "free-form mask image (white region)"). It bounds the edit but can
be larger than the pixels that actually changed. This loader uses it as released (IMDL work on
MagicBrush, e.g. the DiffForensics scripts, binarises it into ``bin_mask/``); a protocol that
scores against the changed pixels instead needs its own masks. Masks are read by luminance (white
= edited; transparent pixels composite to white).
The HF parquet copy (osunlp/MagicBrush) embeds images and has no file layout: export it to the
layout above first. Confidence: high for the JSON/folder layout, medium for the mask semantics.
"""

from __future__ import annotations

from collections.abc import Iterator

from sigma.data.pairs import EditPair
from sigma.eval.benchmarks.base import register_benchmark
from sigma.eval.benchmarks.layout import absolute_root, layout_error, list_root, make_pair, parts, read_json

NAME = "magicbrush"
EXPECTED = "[<split>/]edit_sessions.json and [<split>/]images/<img_id>/<img_id>-{input,output<t>,mask<t>}.png"


@register_benchmark(NAME)
def load_magicbrush(root: str) -> Iterator[EditPair]:
    root = absolute_root(root)
    return _pairs(root, find_sessions(root))


def find_sessions(root: str) -> list[str]:
    """The ``edit_sessions.json`` files (relative to ``root``) in the root or a split folder."""
    files = list_root(root, NAME, EXPECTED)
    sessions = [r for r in files if parts(r)[-1] == "edit_sessions.json" and len(parts(r)) <= 2]
    if not sessions:
        raise layout_error(NAME, root, f"an edit_sessions.json in the root or a split folder ({EXPECTED})")
    return sessions


def session_turns(rel: str, sessions: dict) -> Iterator[dict]:
    """Every turn of one parsed ``edit_sessions.json`` (at ``rel``), masked or not: ``split``,
    ``img_id``, ``turn`` (1-based), ``id`` and the ``input``/``output``/``mask`` paths relative to
    the root (``mask`` None for a mask-free turn), ``instruction``. Shared with the corpus reader."""
    folder = "".join(f"{p}/" for p in parts(rel)[:-1])
    split = parts(rel)[0] if len(parts(rel)) == 2 else None
    for img_id, turns in sessions.items():
        for turn, edit in enumerate(turns, start=1):
            path = {k: f"{folder}images/{img_id}/{edit.get(k) or ''}" for k in ("input", "output", "mask")}
            yield {
                "split": split,
                "img_id": str(img_id),
                "turn": turn,
                "edit": edit,
                "id": f"{NAME}/{split + '/' if split else ''}{img_id}-{turn}",
                "input": path["input"],
                "output": path["output"],
                "mask": path["mask"] if edit.get("mask") else None,
                "instruction": edit.get("instruction", ""),
            }


def _pairs(root: str, sessions: list[str]) -> Iterator[EditPair]:
    for rel in sessions:
        for t in session_turns(rel, read_json(root, rel)):
            if t["mask"] is None:
                continue  # mask-free turn: nothing to localise against
            yield make_pair(
                NAME,
                root,
                t["id"],
                t["input"],
                t["output"],
                t["mask"],
                t["instruction"],
                split=t["split"],
                img_id=t["img_id"],
                turn=t["turn"],
            )
