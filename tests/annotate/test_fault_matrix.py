"""The fault matrix: one corpus holding each kind of bad and odd input once among good pairs.

Every bad row is rejected exactly once with a reason that names it, every good or odd row is
annotated exactly once, and nothing is written outside OUT."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from sigma.annotate.run import annotate_corpus
from sigma.data.images import encode_png
from tests.annotate.outputs import copy_edit_corpus
from tests.conftest import tiny_params

ANNOTATE = ["annotate.shard_size=8", "annotate.batch_size=4", "annotate.workers=0", "validate.max_instruction_chars=60"]


def _save(path, image: Image.Image, **kwargs) -> str:
    image.save(path, **kwargs)
    return path.name


def _build(root, good) -> tuple[list[str], dict[str, str], set[str]]:
    """Manifest lines, ``{bad id: words its reason must hold}`` and the ids of odd-but-good rows."""
    images = root / "images"
    o_rel, e_rel = good.original, good.edited
    original = np.asarray(Image.open(root / o_rel).convert("RGB"))
    edited = np.asarray(Image.open(root / e_rel).convert("RGB"))
    h, w = original.shape[:2]

    def pair(pid, o=o_rel, e=e_rel, **extra):
        return json.dumps({"id": pid, "original": o, "edited": e, "instruction": "remove the object", **extra})

    png = encode_png(edited)
    buf = io.BytesIO()
    Image.fromarray(edited).save(buf, format="JPEG")
    (images / "zero.png").write_bytes(b"")
    (images / "truncated.png").write_bytes(png[: len(png) // 2])
    (images / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (images / "text.png").write_text("this is not an image")
    bomb = Image.new("L", (12000, 12000))
    bomb.save(images / "bomb.png", optimize=True)
    (images / "small.png").write_bytes(encode_png(edited[: h // 2, : w // 2]))
    os.symlink("loop_b.png", images / "loop_a.png")
    os.symlink("loop_a.png", images / "loop_b.png")
    (root.parent / "outside.png").write_bytes(png)

    bad = {
        "missing-file": ("images/nope.png", "not found"),
        "zero-byte": ("images/zero.png", "empty file"),
        "truncated-png": ("images/truncated.png", "corrupt"),
        "truncated-jpeg": ("images/truncated.jpg", "corrupt"),
        "text-as-image": ("images/text.png", "not a recognised image"),
        "bomb": ("images/bomb.png", "pixel limit"),
        "size-mismatch": ("images/small.png", "size mismatch"),
        "climbs-out": ("../outside.png", "outside the corpus"),
        "symlink-loop": ("images/loop_a.png", "cannot read"),
    }
    lines = [pair(pid, e=path) for pid, (path, _) in bad.items()]
    reasons = {pid: words for pid, (_, words) in bad.items()}
    lines += ["{not json", "[1, 2]", json.dumps({"id": "keys-missing"}), pair(good.id)]  # the last: a duplicate
    lines.append(pair("chatty", instruction="remove " + "the red thing " * 10))
    reasons |= {
        "manifest/line-14": "not valid JSON",
        "manifest/line-15": "JSON object",
        "manifest/line-16": "Field required",
        good.id: "duplicate id",
        "chatty": "instruction longer",
    }

    odd = {
        "grey": _save(images / "grey.png", Image.fromarray(edited).convert("L").resize((w, h))),
        "cmyk": _save(images / "cmyk.jpg", Image.fromarray(edited).convert("CMYK"), format="JPEG"),
        "sixteen-bit": _save(images / "sixteen.png", Image.fromarray(edited[..., 0].astype(np.uint16) * 257)),
        "palette": _save(images / "palette.png", Image.fromarray(edited).convert("P")),
        "rgba": _save(images / "rgba.png", Image.fromarray(edited).convert("RGBA")),
    }
    lines += [pair(pid, e=f"images/{name}") for pid, name in odd.items()]
    lines.append(json.dumps({"id": "null-instruction", "original": o_rel, "edited": e_rel, "instruction": None}))
    lines.append(pair("odd/id with spaces & ünïcödé"))
    lines.append(pair("x" * 400))  # longer than a file name may be
    return lines, reasons, set(odd) | {"null-instruction", "odd/id with spaces & ünïcödé", "x" * 400}


@pytest.mark.slow
def test_every_bad_row_is_rejected_once_and_every_good_row_annotated_once(
    tiny_project, tmp_path, tiny_checkpoint, monkeypatch
):
    monkeypatch.chdir(tiny_project)
    root = tmp_path / "corpus" / "inner"
    root.parent.mkdir()
    pairs = copy_edit_corpus(tiny_project, root)[:4]
    lines, reasons, odd = _build(root, pairs[0])
    good = [p.to_json() for p in pairs]
    # A byte-order mark and CRLF line ends; the bad rows are lines 4-12 and 14-19.
    body = "\r\n".join(["\ufeff" + good[0], *good[1:3], *lines[:9], good[3], *lines[9:]])
    (root / "manifest.jsonl").write_text(body + "\r\n", encoding="utf-8")
    before = {p for p in tmp_path.rglob("*")}

    out = tmp_path / "out"
    summary = annotate_corpus(tiny_params(*ANNOTATE), str(root), str(out), tiny_checkpoint, track=False)

    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    records = [json.loads(line) for line in (out / "annotations.jsonl").read_text().splitlines()]
    by_id = {r["id"]: r["reason"] for r in rejects}
    assert len(by_id) == len(rejects), "a row rejected twice"
    for pid, words in reasons.items():
        assert pid in by_id, f"{pid} was not rejected"
        assert words in by_id[pid], f"{pid}: {by_id[pid]!r} does not say {words!r}"
    assert set(by_id) == set(reasons)
    annotated = [r["id"] for r in records]
    assert len(annotated) == len(set(annotated))
    assert set(annotated) == {p.id for p in pairs} | odd
    assert summary["annotated"] + summary["rejected"] == summary["pairs"]
    assert "other" not in summary["rejects_by_reason"]  # every reason has its category
    written = {p for p in tmp_path.rglob("*")} - before
    assert all(p == out or out in p.parents for p in written), "something was written outside OUT"
