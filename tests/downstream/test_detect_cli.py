"""``sigma detect``: a trained detector over any corpus, from the edited images alone, with the outputs,
rejects and exit codes of ``sigma annotate``."""

from __future__ import annotations

import json

import numpy as np
import torch
from PIL import Image
from typer.testing import CliRunner

from sigma.cli import EXIT_ALL_REJECTED, EXIT_NO_PAIRS, app
from sigma.data.images import encode_png
from sigma.model.detectors import build_detector, save_detector

SIZES = [(37, 53), (61, 29), (45, 45)]


def odd_corpus(root, corrupt: bool = True):
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for i, (h, w) in enumerate(SIZES):
        for side in ("o", "e"):
            image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            (root / "images" / f"{i}_{side}.png").write_bytes(encode_png(image))
        rows.append({"id": f"p{i}", "original": f"images/{i}_o.png", "edited": f"images/{i}_e.png", "instruction": ""})
    if corrupt:
        (root / "images" / "bad_e.png").write_bytes(b"not an image")
        rows.append({"id": "bad", "original": "images/0_o.png", "edited": "images/bad_e.png", "instruction": "x"})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def detector_file(path):
    torch.manual_seed(0)
    return save_detector(
        build_detector("mobilenet_unet", 32, decoder_dim=8), path, "mobilenet_unet", {"decoder_dim": 8}, {}
    )


def run(*args: str):
    return CliRunner().invoke(app, ["detect", *args, "--no-track", "--set", "annotate.processes=1"])


def test_detect_writes_a_mask_per_pair_at_its_own_size_and_rejects_the_corrupt_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    corpus, out = odd_corpus(tmp_path / "corpus"), tmp_path / "out"
    weights = detector_file(tmp_path / "d.safetensors")
    result = run(str(corpus), str(out), "--detector", str(weights))
    assert result.exit_code == 0, result.output
    for i, (h, w) in enumerate(SIZES):
        assert np.asarray(Image.open(out / "masks" / f"p{i}.png")).shape == (h, w)
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rejects] == ["bad"] and "edited" in rejects[0]["reason"]
    records = [json.loads(line) for line in (out / "annotations.jsonl").read_text().splitlines()]
    assert {r["model_uri"] for r in records} == {f"method:detector@{weights}"}


def test_detect_sees_the_edited_image_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    corpus = odd_corpus(tmp_path / "corpus", corrupt=False)
    weights = detector_file(tmp_path / "d.safetensors")
    assert run(str(corpus), str(tmp_path / "a"), "--detector", str(weights)).exit_code == 0
    # other originals (black, of the pair's size) and instructions: the same masks
    rows = [json.loads(line) | {"instruction": "remove the cat"} for line in (corpus / "manifest.jsonl").open()]
    for row, (h, w) in zip(rows, SIZES, strict=True):
        image = np.zeros((h, w, 3), np.uint8)
        (corpus / row["original"]).write_bytes(encode_png(image))
    (corpus / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert run(str(corpus), str(tmp_path / "b"), "--detector", str(weights)).exit_code == 0
    for i in range(len(SIZES)):
        assert (tmp_path / "a/masks" / f"p{i}.png").read_bytes() == (tmp_path / "b/masks" / f"p{i}.png").read_bytes()


def test_detect_exit_codes_and_a_bad_detector_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    weights = detector_file(tmp_path / "d.safetensors")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "manifest.jsonl").write_text("")
    assert run(str(empty), str(tmp_path / "o1"), "--detector", str(weights)).exit_code == EXIT_NO_PAIRS

    bad = tmp_path / "bad"
    (bad / "images").mkdir(parents=True)
    (bad / "images" / "x.png").write_bytes(b"broken")
    row = {"id": "x", "original": "images/x.png", "edited": "images/x.png", "instruction": ""}
    (bad / "manifest.jsonl").write_text(json.dumps(row) + "\n")
    assert run(str(bad), str(tmp_path / "o2"), "--detector", str(weights)).exit_code == EXIT_ALL_REJECTED

    (tmp_path / "not.safetensors").write_text("nope")
    result = run(str(bad), str(tmp_path / "o3"), "--detector", str(tmp_path / "not.safetensors"))
    assert result.exit_code == 2 and "not a detector checkpoint" in result.output
