"""Benchmark loaders against tiny replicas of each dataset's published layout (local and S3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest
from PIL import Image

from sigma.data.dataset import load_pair_arrays
from sigma.eval.benchmarks import BenchmarkLayoutError, benchmark_loader, list_benchmarks
from tests.s3_fixtures import moto_s3  # noqa: F401  (fixture)

BENCHMARKS = ("autosplice", "cocoglide", "deal300k", "magicbrush", "opensdi")


def _image(path: Path, size: tuple[int, int], seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, **({"quality": 95} if path.suffix == ".jpg" else {}))


def _mask(path: Path, size: tuple[int, int], mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = np.zeros(size, dtype=np.uint8)
    mask[1 : size[0] // 2, 2 : size[1] // 2] = 255
    img = Image.fromarray(mask)
    (img.convert(mode) if mode != "L" else img).save(path)


def _json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def build_cocoglide(root: Path) -> dict[str, str]:
    base = root / "CocoGlide"  # the folder the zip unpacks to: the loader looks one level down
    items = {"114871": ("dining table", (12, 16)), "402992": ("cow", (10, 10)), "66635": ("tv", (16, 8))}
    for i, (coco_id, (label, size)) in enumerate(items.items()):
        _image(base / "real" / f"{label}_{coco_id}.png", size, i)
        _image(base / "fake" / f"glide_inpainting_val2017_{coco_id}_up.png", size, 10 + i)
        _mask(base / "mask" / f"{label}_{coco_id}_mask.png", size)
    _image(base / "fake" / "glide_inpainting_val2017_999_up.png", (8, 8), 99)  # no mask: skipped
    return {f"cocoglide/{k}": label for k, (label, _) in items.items()}


def build_autosplice(root: Path) -> dict[str, str]:
    captions = {"101": ("a dog on the grass", "dog", "cat"), "202": ("a red car", "car", "bus")}
    for i, (sid, (caption, old, new)) in enumerate(captions.items()):
        size = (12, 14) if sid == "101" else (9, 11)
        _image(root / "Authentic" / f"{sid}.jpg", size, i)
        _mask(root / "Mask" / f"{sid}_mask.png", size)
        _json(
            root / "Caption" / f"caption_{sid}.json",
            {"id": int(sid), "ori_caption": caption, "oriCaptionTerm": old, "userInputTerm": new},
        )
        for k in range(2 if sid == "101" else 1):
            _image(root / "Forged_JPEG100" / f"{sid}_{k}.jpg", size, 10 + k)
            _image(root / "Forged_JPEG75" / f"{sid}_{k}.jpg", size, 20 + k)  # lower quality: ignored
    _image(root / "Forged_JPEG100" / "303_0.jpg", (8, 8), 5)  # no mask: skipped
    return {
        "autosplice/101_0": "replace dog with cat",
        "autosplice/101_1": "replace dog with cat",
        "autosplice/202_0": "replace car with bus",
    }


def build_magicbrush(root: Path) -> dict[str, str]:
    sessions = {
        "1001": [
            {
                "input": "1001-input.png",
                "output": "1001-output1.png",
                "mask": "1001-mask1.png",
                "instruction": "make the sky pink",
            },
            {
                "input": "1001-output1.png",
                "output": "1001-output2.png",
                "mask": "1001-mask2.png",
                "instruction": "add a kite",
            },
        ],
        "1002": [
            {
                "input": "1002-input.png",
                "output": "1002-output1.png",
                "mask": "1002-mask1.png",
                "instruction": "remove the cup",
            },
            {"input": "1002-output1.png", "output": "1002-output2.png", "mask": "", "instruction": "mask-free turn"},
        ],
    }
    for i, (img_id, turns) in enumerate(sessions.items()):
        size = (16, 12) if img_id == "1001" else (10, 10)
        folder = root / "test" / "images" / img_id
        _image(folder / f"{img_id}-input.png", size, i)
        for t, turn in enumerate(turns, start=1):
            _image(folder / turn["output"], size, 10 * t + i)
            if turn["mask"]:
                _mask(folder / turn["mask"], size, mode="RGB")
    _json(root / "test" / "edit_sessions.json", sessions)
    return {
        "magicbrush/test/1001-1": "make the sky pink",
        "magicbrush/test/1001-2": "add a kite",
        "magicbrush/test/1002-1": "remove the cup",
    }


def build_deal300k(root: Path) -> dict[str, str]:
    edits = {"000000000139": ("120", (12, 16)), "000000000285": ("180", (10, 8)), "000000000724": ("120", (9, 9))}
    for i, (src, (ckpt, size)) in enumerate(edits.items()):
        _image(root / "test" / f"{src}.jpg", size, i)
        _image(root / "test" / f"{src}_qwen{ckpt}.jpg", size, 10 + i)
        # masks in label/, except one stored beside its edited image (png next to jpg)
        _mask((root / "test" if src == "000000000724" else root / "label") / f"{src}_qwen{ckpt}.png", size)
    _image(root / "test" / "000000000632_qwen120.jpg", (8, 8), 7)  # no mask: skipped
    _json(
        root / "instructions" / "checkpoint-120_dev_results.json",
        [{"image_name": "000000000139.jpg", "generated_text": "let the floor be made of marble"}],
    )
    _json(
        root / "instructions" / "checkpoint-180_dev_results.json",
        [{"image_name": "000000000285.jpg", "generated_text": "add a smile on the bear"}],
    )
    return {
        "deal300k/000000000139_qwen120": "let the floor be made of marble",
        "deal300k/000000000285_qwen180": "add a smile on the bear",
        "deal300k/000000000724_qwen120": "",
    }


def build_opensdi(root: Path) -> dict[str, str]:
    items = {("sd15", "000651821"): (12, 10), ("sd15", "000999646"): (8, 14), ("flux", "000143605"): (10, 10)}
    for i, ((model, key), size) in enumerate(items.items()):
        _image(root / "partial" / model / "real" / f"{key}.jpg", size, i)
        _image(root / "partial" / model / "fake" / f"{key}.jpg", size, 10 + i)
        _mask(root / "partial" / model / "mask" / f"{key}.png", size)
    _image(root / "full" / "sd15" / "fake" / "000000001.jpg", (8, 8), 3)  # fully generated: no mask
    return {f"opensdi/{model}/{key}": "" for model, key in items}


BUILDERS = {name: globals()[f"build_{name}"] for name in BENCHMARKS}


def test_every_benchmark_is_registered():
    assert set(BENCHMARKS) | {"pairs"} <= set(list_benchmarks())


@pytest.mark.parametrize("name", BENCHMARKS)
def test_loader_reads_replica_of_published_layout(name, tmp_path):
    expected = BUILDERS[name](tmp_path)
    result = benchmark_loader(name)(str(tmp_path))
    assert isinstance(result, Iterator)  # lazy
    pairs = list(result)
    assert len(pairs) == len(expected)
    assert len({p.id for p in pairs}) == len(pairs)
    assert {p.id: p.instruction for p in pairs} == expected
    for pair in pairs:
        assert pair.source == name and pair.model_extra["benchmark"] == name
        for path in (pair.original, pair.edited, pair.mask):
            assert Path(path).is_absolute() and Path(path).is_file(), path
        arrays = load_pair_arrays(pair)
        assert arrays["mask"].shape == arrays["edited"].shape[:2] == arrays["original"].shape[:2]
        assert arrays["mask"].any() and not arrays["mask"].all()


@pytest.mark.parametrize("name", BENCHMARKS)
def test_wrong_layout_raises_layout_error(name, tmp_path):
    _image(tmp_path / "images" / "a.png", (4, 4), 0)
    _mask(tmp_path / "masks" / "a.png", (4, 4))
    with pytest.raises(BenchmarkLayoutError, match=name) as info:
        list(benchmark_loader(name)(str(tmp_path)))
    assert str(tmp_path) in str(info.value)
    with pytest.raises(BenchmarkLayoutError, match="not a folder"):
        list(benchmark_loader(name)(str(tmp_path / "missing")))


@pytest.mark.parametrize("name", BENCHMARKS)
def test_other_benchmarks_replica_is_not_mistaken_for_this_one(name, tmp_path):
    other = BENCHMARKS[(BENCHMARKS.index(name) + 1) % len(BENCHMARKS)]
    BUILDERS[other](tmp_path)
    with pytest.raises(BenchmarkLayoutError):
        list(benchmark_loader(name)(str(tmp_path)))


def test_pair_with_missing_original_is_still_yielded(tmp_path):
    build_cocoglide(tmp_path)
    (tmp_path / "CocoGlide" / "real" / "cow_402992.png").unlink()
    pairs = {p.id: p for p in benchmark_loader("cocoglide")(str(tmp_path))}
    assert len(pairs) == 3
    assert pairs["cocoglide/402992"].original == str(tmp_path / "CocoGlide" / "real" / "cow_402992.png")


def test_autosplice_prefers_highest_jpeg_quality_and_shares_masks(tmp_path):
    build_autosplice(tmp_path)
    pairs = list(benchmark_loader("autosplice")(str(tmp_path)))
    assert {Path(p.edited).parent.name for p in pairs} == {"Forged_JPEG100"}
    assert all(p.model_extra["jpeg_quality"] == 100 and p.edit_type == "replace" for p in pairs)
    assert len({p.mask for p in pairs if p.id.startswith("autosplice/101_")}) == 1


@pytest.mark.integration
def test_loader_reads_replica_from_s3(moto_s3, tmp_path):  # noqa: F811
    local = tmp_path / "autosplice"
    expected = build_autosplice(local)
    client = boto3.client("s3", endpoint_url=moto_s3)
    client.create_bucket(Bucket="bench")
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        client.put_object(
            Bucket="bench", Key=f"data/autosplice/{path.relative_to(local).as_posix()}", Body=path.read_bytes()
        )
    pairs = list(benchmark_loader("autosplice")("s3://bench/data/autosplice/"))
    assert {p.id: p.instruction for p in pairs} == expected
    for pair in pairs:
        assert all(path.startswith("s3://bench/data/autosplice/") for path in (pair.original, pair.edited, pair.mask))
        arrays = load_pair_arrays(pair)
        assert arrays["mask"].shape == arrays["edited"].shape[:2]
    with pytest.raises(BenchmarkLayoutError, match="empty"):
        list(benchmark_loader("autosplice")("s3://bench/nothing-here"))
