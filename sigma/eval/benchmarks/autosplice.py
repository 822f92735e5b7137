"""AutoSplice (Jia et al., CVPR-W 2023): real image-caption pairs whose captioned object was
replaced by DALL-E 2 (several outputs per source), in JPEG-100/90/75 versions.

Layout of the release (shanface33/AutoSplice_Dataset, by request form), as read by PhotoHolmes'
``datasets/autosplice.py`` and the DiffForensics evaluation scripts::

    Authentic/<id>.jpg                 authentic original
    Forged_JPEG100/<id>_<k>.jpg        edited image k of source <id> (also Forged_JPEG90, _JPEG75)
    Mask/<id>_mask.png                 ground-truth mask, shared by the forged versions of <id>
    Caption/*.json                     {"id", "ori_caption", "oriCaptionTerm", "userInputTerm", ...}

The highest JPEG quality present is used (100, then 90, then 75). A per-version mask
``Mask/<id>_<k>_mask.png`` wins over the shared one. The instruction is built from the caption
record: "replace <oriCaptionTerm> with <userInputTerm>" (edit_type ``replace``); the caption files'
names are not documented, so they are matched on their ``id`` field (or their stem). Confidence:
folders and image/mask naming high (two independent loaders); caption keys medium (one script).
"""

from __future__ import annotations

from collections.abc import Iterator

from sigma.data.pairs import EditPair
from sigma.eval.benchmarks.base import register_benchmark
from sigma.eval.benchmarks.layout import (
    absolute_root,
    by_stem,
    find_base,
    images_in,
    layout_error,
    list_root,
    make_pair,
    parts,
    read_json,
    stem,
)

NAME = "autosplice"
FORGED = ("Forged_JPEG100", "Forged_JPEG90", "Forged_JPEG75")
EXPECTED = "Authentic/<id>.jpg, Forged_JPEG100/<id>_<k>.jpg, Mask/<id>_mask.png[, Caption/*.json]"


@register_benchmark(NAME)
def load_autosplice(root: str) -> Iterator[EditPair]:
    root = absolute_root(root)
    files = list_root(root, NAME, EXPECTED)
    found = [(f, b) for f in FORGED if (b := find_base(files, "Authentic", "Mask", f)) is not None]
    if not found:
        raise layout_error(NAME, root, f"folders Authentic/, Mask/ and one of {'/, '.join(FORGED)}/ ({EXPECTED})")
    forged, base = found[0]
    masks = {stem(r).removesuffix("_mask"): r for r in images_in(files, base, "Mask")}
    captions = {
        r
        for r in files
        if r.startswith(base)
        and r.lower().endswith(".json")
        and len(parts(r)) > 1
        and parts(r)[-2].lower() == "caption"
    }
    return _pairs(
        root,
        base,
        forged,
        images_in(files, base, forged),
        masks,
        by_stem(images_in(files, base, "Authentic")),
        sorted(captions),
    )


def _instruction(record: dict) -> str:
    old, new = record.get("oriCaptionTerm"), record.get("userInputTerm")
    return f"replace {old} with {new}" if old and new else str(new or "")


def _read_captions(root: str, caption_files: list[str]) -> dict[str, dict]:
    records = {}
    for rel in caption_files:
        data = read_json(root, rel)
        for rec in data if isinstance(data, list) else [data]:
            if isinstance(rec, dict):
                records[str(rec.get("id", stem(rel)))] = rec
    return records


def _pairs(root, base, forged, edits, masks, authentic, caption_files) -> Iterator[EditPair]:
    records: dict[str, dict] | None = None
    for edit in edits:
        source_id = stem(edit).split("_")[0]
        mask = masks.get(stem(edit)) or masks.get(source_id)
        if mask is None:
            continue  # no ground-truth mask: not a localisation pair
        if records is None:  # read the captions once, on the first pair that needs them
            records = _read_captions(root, caption_files)
        record = records.get(source_id, {})
        original = authentic.get(source_id, f"{base}Authentic/{source_id}.jpg")
        yield make_pair(
            NAME,
            root,
            f"{NAME}/{stem(edit)}",
            original,
            edit,
            mask,
            _instruction(record),
            edit_type="replace" if record else None,
            caption=record.get("ori_caption", ""),
            jpeg_quality=int(forged.removeprefix("Forged_JPEG")),
        )
