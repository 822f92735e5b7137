"""The fault matrix: one corpus holding each kind of bad and odd input once among good pairs, run
through `sigma annotate`, the evaluation and the served model.

Every bad row is rejected exactly once with a reason that names it, every good or odd row is
annotated (scored) exactly once, and nothing is written outside OUT."""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sigma.annotate.run import annotate_corpus
from sigma.config import BenchmarkSpec
from sigma.data import storage
from sigma.data.images import encode_png
from sigma.eval.benchmarks import iter_benchmark
from sigma.eval.evaluate import evaluate
from sigma.eval.methods import build_method
from tests.annotate.outputs import copy_edit_corpus
from tests.conftest import tiny_params

ANNOTATE = ["annotate.shard_size=8", "annotate.batch_size=4", "annotate.workers=0", "validate.max_instruction_chars=60"]


def _save(path, image: Image.Image, **kwargs) -> str:
    image.save(path, **kwargs)
    return path.name


def _orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def _build(root, good) -> tuple[list[str], dict[str, str], set[str]]:
    """Manifest lines, ``{bad id: words its reason must hold}`` and the ids of odd-but-good rows."""
    images = root / "images"
    o_rel, e_rel = good.original, good.edited
    original = np.asarray(Image.open(root / o_rel).convert("RGB"))
    edited = np.asarray(Image.open(root / e_rel).convert("RGB"))
    h, w = original.shape[:2]

    def pair(pid, o=o_rel, e=e_rel, **extra):
        row = {"id": pid, "original": o, "edited": e, "mask": good.mask, "instruction": "remove the object"}
        return json.dumps(row | extra)

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
        # stored turned a quarter to the left, EXIF orientation 6 turns it back: only then do sizes match
        "exif-rotated": _save(
            images / "exif.jpg", Image.fromarray(edited).transpose(Image.Transpose.ROTATE_90), exif=_orientation(6)
        ),
    }
    lines += [pair(pid, e=f"images/{name}") for pid, name in odd.items()]
    lines.append(pair("null-instruction", instruction=None))
    lines.append(pair("odd/id with spaces & ünïcödé"))
    lines.append(pair("x" * 400))  # longer than a file name may be
    return lines, reasons, set(odd) | {"null-instruction", "odd/id with spaces & ünïcödé", "x" * 400}


@pytest.fixture
def matrix(tiny_project, tmp_path, monkeypatch):
    """``(corpus root, good pairs, {bad id: reason words}, odd ids)``."""
    monkeypatch.chdir(tiny_project)
    root = tmp_path / "corpus" / "inner"
    root.parent.mkdir()
    pairs = copy_edit_corpus(tiny_project, root)[:4]
    lines, reasons, odd = _build(root, pairs[0])
    good = [p.to_json() for p in pairs]
    # A byte-order mark and CRLF line ends; the bad rows are lines 4-12 and 14-19.
    body = "\r\n".join(["\ufeff" + good[0], *good[1:3], *lines[:9], good[3], *lines[9:]])
    (root / "manifest.jsonl").write_text(body + "\r\n", encoding="utf-8")
    return root, pairs, reasons, odd


def _files(folders: list[Path], skip: Path) -> dict[Path, tuple[int, int]]:
    """Every file and folder under ``folders`` (but not under ``skip``) with its size and mtime."""
    found = {}
    for folder in folders:
        for path in folder.rglob("*"):
            if path != skip and skip not in path.parents:
                stat = path.lstat()
                found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


@pytest.mark.slow
def test_every_bad_row_is_rejected_once_and_every_good_row_annotated_once(
    matrix, tmp_path, tiny_checkpoint, monkeypatch
):
    root, pairs, reasons, odd = matrix
    temp = tmp_path / "system-temp"  # the run's system temp folder, watched like the rest
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setenv("SQLITE_TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    import matplotlib.pyplot  # noqa: F401 - its font cache stays where it is: only the run's writes are watched

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))  # this test's own: no other test writes it
    user_cache = storage.user_cache("")
    user_cache.mkdir(parents=True)
    out = tmp_path / "out"
    watched = [tmp_path, user_cache, Path.cwd()]  # cwd: the project folder the run starts in
    before = _files(watched, out)

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
    after = _files(watched, out)
    changed = sorted(str(p) for p in after.keys() | before.keys() if after.get(p) != before.get(p))
    assert changed == [], "written outside OUT (temp folder, user cache, working folder or beside OUT)"


def test_evaluate_rejects_the_same_bad_rows_and_scores_the_rest(matrix):
    root, pairs, reasons, odd = matrix
    spec = BenchmarkSpec(name="matrix", loader="pairs", path=str(root))
    result = evaluate(build_method("pixdiff_otsu"), iter_benchmark(spec), batch_size=4)
    by_id = {r["id"]: r["reason"] for r in result.rejects}
    # An evaluation does not annotate: instruction length and repeated ids do not concern it.
    expected = {pid: words for pid, words in reasons.items() if pid not in {"chatty", pairs[0].id}}
    for pid, words in expected.items():
        assert words in by_id.get(pid, ""), f"{pid}: {by_id.get(pid)!r}"
    assert set(by_id) == set(expected)
    assert {r.id for r in result.records} == {p.id for p in pairs} | odd | {"chatty"}


def test_the_served_model_gives_each_bad_image_row_its_error(matrix, tiny_checkpoint):
    from sigma.model.checkpoint import load_checkpoint
    from sigma.model.pyfunc import predict_frame

    root, pairs, reasons, odd = matrix
    rows = []
    for line in (root / "manifest.jsonl").read_text(encoding="utf-8-sig").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a manifest-level fault: no row for the served model
    rows = [r for r in rows if isinstance(r, dict) and isinstance(r.get("original"), str) and "edited" in r]
    manifest_faults = {"climbs-out", "chatty", pairs[0].id}  # a path rule, a length rule, a repeated id
    image_faults = {pid for pid in reasons if pid not in manifest_faults and not pid.startswith("manifest/")}
    frame = pd.DataFrame(
        {
            "id": [r["id"] for r in rows],
            "original": [str((root / r["original"]).resolve()) for r in rows],
            "edited": [str(root / r["edited"]) for r in rows],
            "instruction": [r.get("instruction") for r in rows],
        }
    )
    out = predict_frame(load_checkpoint(tiny_checkpoint), frame)
    errors = dict(zip(frame["id"], out["error"], strict=True))
    for pid in image_faults:
        assert errors[pid], f"{pid} got no error"
    assert all(errors[pid] == "" for pid in odd | {p.id for p in pairs})
    assert out.loc[out["error"] != "", "score"].isna().all()
