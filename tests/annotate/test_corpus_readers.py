"""Corpus readers: each one over a tiny replica of its corpus's published (or exported) layout —
counts, ids, instructions, edit types, decodable paths, wrong layouts, bad rows, streaming, S3."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sigma.annotate.corpora import (
    CorpusLayoutError,
    anyedit,
    corpus_reader,
    crispedit,
    list_corpora,
    omniedit,
    open_corpus,
    promptfix,
    table,
)
from sigma.data import storage
from sigma.data.dataset import load_pair_arrays
from sigma.data.pairs import EDIT_TYPES
from tests.s3_fixtures import moto_s3  # noqa: F401  (a fixture)

TABLE_READERS = {
    "anyedit": anyedit,
    "crispedit": crispedit,
    "omniedit": omniedit,
    "promptfix": promptfix,
    "table": table,
}
NEW = sorted([*TABLE_READERS, "magicbrush"])


def _image(path: Path, size=(12, 10), seed=0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)


def _mask(path: Path, size=(12, 10)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = np.zeros((size[1], size[0]), dtype=np.uint8)
    mask[2:5, 3:7] = 255
    Image.fromarray(mask).save(path)


def _jsonl(path: Path, rows: list, bad: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) for r in rows]
    if bad:
        lines.insert(1, '{"not": valid json')
    path.write_text("\n".join(lines) + "\n")


# --- replicas: each returns (root to pass the reader, {id: (instruction, edit_type, category)}) ------


def build_anyedit(base: Path, bad: bool = False):
    folder = base / "validation"  # a split folder, as exported from data/validation-*.parquet
    rows = [
        {
            "image_id": "COCO_1",
            "edit_instruction": "change the airplane to green",
            "edit_type": "color_alter",
            "image_file": "images/src/COCO_1.jpg",
            "edited_file": "images/edit/0001.png",
            "visual_input": None,
            "input": "a small airplane",
            "output": "a green small airplane",
        },
        {
            "image_id": "COCO_1",
            "edit_instruction": "remove the airplane",
            "edit_type": "remove",  # same source
            "image_file": "images/src/COCO_1.jpg",
            "edited_file": "images/edit/0002.png",
        },
        {
            "image_id": "COCO_2",
            "edit_instruction": "change the season to autumn",
            "edit_type": "tune_transfer",
            "image_file": {"bytes": None, "path": "images/src/COCO_2.jpg"},
            "edited_file": "images/edit/0003.png",
        },
    ]
    for i, row in enumerate(rows):
        src = row["image_file"]["path"] if isinstance(row["image_file"], dict) else row["image_file"]
        _image(folder / src, seed=int(src[-5]))
        _image(folder / row["edited_file"], seed=10 + i)
    _jsonl(folder / "metadata.jsonl", rows, bad)
    ids = [f"anyedit/validation/images/edit/000{i}" for i in (1, 2, 3)]
    return base, {
        ids[0]: ("change the airplane to green", "attribute_change", "color_alter"),
        ids[1]: ("remove the airplane", "remove", "remove"),
        ids[2]: ("change the season to autumn", "global", "tune_transfer"),
    }


def build_omniedit(base: Path, bad: bool = False):  # CSV export; edited_prompt_list as JSON text
    rows = [
        ("task_obj_add_40931", "addition", ["Add a red hat", "Put a red hat on him"]),
        ("task_obj_swap_joint_mask_276754", "swap", ["Replace the cat with a dog"]),
        ("task_env_weather_112463", "env", ["Make it snow"]),
    ]
    base.mkdir(parents=True, exist_ok=True)
    with open(base / "metadata.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["omni_edit_id", "task", "src_img", "edited_img", "edited_prompt_list"])
        for i, (oid, task, prompts) in enumerate(rows):
            _image(base / "src" / f"{oid}.png", (9, 7), i)
            _image(base / "edited" / f"{oid}.png", (9, 7), 10 + i)
            writer.writerow([oid, task, f"src/{oid}.png", f"edited/{oid}.png", json.dumps(prompts)])
            if bad and i == 0:
                writer.writerow(["only", "three", "fields"])
    return base, {
        "omniedit/task_obj_add_40931": ("Add a red hat", "add", "addition"),
        "omniedit/task_obj_swap_joint_mask_276754": ("Replace the cat with a dog", "replace", "swap"),
        "omniedit/task_env_weather_112463": ("Make it snow", "global", "env"),
    }


def build_promptfix(base: Path, bad: bool = False):
    folder = base / "train"
    rows = [
        {
            "input_img": "in/0.png",
            "processed_img": "out/0.png",
            "instruction": "remove the person",
            "task_id": "object_removal",
            "auxiliary_prompt": "a beach",
        },
        {
            "input_img_file_name": "in/1.png",
            "processed_img_file_name": "out/1.png",  # imagefolder style
            "instruction": "clear the haze",
            "task_id": "dehazing",
        },
        {"input_img": "in/2.png", "processed_img": "out/2.png", "instruction": "fix this photo"},
    ]  # no task_id
    for i in range(3):
        _image(folder / "in" / f"{i}.png", (8, 8), i)
        _image(folder / "out" / f"{i}.png", (8, 8), 10 + i)
    _jsonl(folder / "metadata.jsonl", rows, bad)
    return base, {
        "promptfix/train/out/0": ("remove the person", "remove", "object_removal"),
        "promptfix/train/out/1": ("clear the haze", "global", "dehazing"),
        "promptfix/train/out/2": ("fix this photo", None, None),
    }


def build_crispedit(base: Path, bad: bool = False):
    rows = []
    for i, (kind, text) in enumerate(
        [("color", "make the shirt blue"), ("motion", "raise his arm"), ("background", "put her on a beach")]
    ):
        _image(base / "images" / f"{kind}_in.png", (10, 6), i)
        _image(base / "images" / f"{kind}_out.png", (10, 6), 10 + i)
        rows.append(
            {
                "input_img": f"images/{kind}_in.png",
                "output_img": f"images/{kind}_out.png",
                "instruction": text,
                "type": kind,
                "shard": f"{kind}_00000",
                "row_idx": i,
            }
        )
    _jsonl(base / "metadata.jsonl", rows, bad)
    return base, {
        "crispedit/color_00000:0": ("make the shirt blue", "attribute_change", "color"),
        "crispedit/motion_00000:1": ("raise his arm", "other", "motion"),
        "crispedit/background_00000:2": ("put her on a beach", "global", "background"),
    }


def build_magicbrush(base: Path, bad: bool = False):
    sessions = {
        "1001": [
            {
                "input": "1001-input.png",
                "output": "1001-output1.png",
                "mask": "1001-mask1.png",
                "instruction": "make the sky pink",
            },
            {"input": "1001-output1.png", "output": "1001-output2.png", "mask": "", "instruction": "add a kite"},
        ],
        "1002": [
            {
                "input": "1002-input.png",
                "output": "1002-output1.png",
                "mask": "1002-mask1.png",
                "instruction": "remove the cup",
            }
        ],
    }
    for i, (img_id, turns) in enumerate(sessions.items()):
        folder = base / "test" / "images" / img_id
        _image(folder / f"{img_id}-input.png", (12, 10), i)
        for t, turn in enumerate(turns, start=1):
            _image(folder / turn["output"], (12, 10), 10 * t + i)
            if turn["mask"]:
                _mask(folder / turn["mask"], (12, 10))
    (base / "test" / "edit_sessions.json").write_text(json.dumps(sessions))
    if bad:
        (base / "dev").mkdir()
        (base / "dev" / "edit_sessions.json").write_text('{"2001": [')
    return base, {
        "magicbrush/test/1001-1": ("make the sky pink", None, None),
        "magicbrush/test/1001-2": ("add a kite", None, None),
        "magicbrush/test/1002-1": ("remove the cup", None, None),
    }


def build_table(base: Path, bad: bool = False):  # the root is the CSV file itself
    base.mkdir(parents=True, exist_ok=True)
    rows = [
        ("a", "remove the lamp", "remove", True),
        ("b", "recolour the car", "colour change", False),
        ("c", "make it better", "", False),
    ]
    with open(base / "edits.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "source", "target", "prompt", "category", "mask"])
        for i, (pid, text, category, has_mask) in enumerate(rows):
            _image(base / "img" / f"{pid}_0.png", (7, 9), i)
            _image(base / "img" / f"{pid}_1.png", (7, 9), 10 + i)
            if has_mask:
                _mask(base / "img" / f"{pid}_m.png", (7, 9))
            writer.writerow(
                [pid, f"img/{pid}_0.png", f"img/{pid}_1.png", text, category, f"img/{pid}_m.png" if has_mask else ""]
            )
            if bad and i == 1:
                writer.writerow(["d", "img/d_0.png"])
    return base / "edits.csv", {
        "table/a": ("remove the lamp", "remove", "remove"),
        "table/b": ("recolour the car", "attribute_change", "colour change"),
        "table/c": ("make it better", None, None),
    }


def build_pairs(base: Path, bad: bool = False):
    lines = []
    for i, pid in enumerate(["p0", "p1"]):
        _image(base / "images" / f"{pid}_o.png", (8, 6), i)
        _image(base / "images" / f"{pid}_e.png", (8, 6), 10 + i)
        lines.append(
            json.dumps(
                {
                    "id": pid,
                    "original": f"images/{pid}_o.png",
                    "edited": f"images/{pid}_e.png",
                    "instruction": f"edit {pid}",
                    "edit_type": "other",
                }
            )
        )
    (base / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return base, {"p0": ("edit p0", "other", None), "p1": ("edit p1", "other", None)}


BUILDERS = {name[len("build_") :]: fn for name, fn in globals().items() if name.startswith("build_")}


def test_every_registered_corpus_has_a_replica():
    assert set(list_corpora()) == set(BUILDERS)
    assert set(NEW) <= set(list_corpora())


@pytest.mark.parametrize("name", list_corpora())
def test_reader_yields_resolved_decodable_pairs(name, tmp_path):
    root, expected = BUILDERS[name](tmp_path / name)
    pairs = list(corpus_reader(name)(str(root)))
    assert len(pairs) == len(expected)
    assert [p.id for p in pairs] == list(expected) and len({p.id for p in pairs}) == len(pairs)
    for pair in pairs:
        instruction, edit_type, category = expected[pair.id]
        assert pair.instruction == instruction
        assert pair.edit_type == edit_type and (edit_type is None or edit_type in EDIT_TYPES)
        assert Path(pair.original).is_absolute() and Path(pair.original).is_file()
        assert Path(pair.edited).is_file() and (pair.mask is None or Path(pair.mask).is_file())
        arrays = load_pair_arrays(pair)
        assert arrays["original"].shape == arrays["edited"].shape
        if name in NEW:
            extra = pair.model_extra
            assert pair.source == name and extra["corpus"] == name
            assert extra.get("category") == category
            assert "invalid_reason" not in extra


@pytest.mark.parametrize("name", NEW)
def test_same_pairs_through_open_corpus_and_a_relative_root(name, tmp_path, monkeypatch):
    root, expected = BUILDERS[name](tmp_path / name)
    monkeypatch.chdir(tmp_path)
    pairs = list(open_corpus(f"{name}:{Path(root).relative_to(tmp_path)}"))
    assert [p.id for p in pairs] == list(expected)
    assert all(Path(p.edited).is_absolute() for p in pairs)


def test_magicbrush_keeps_mask_free_turns_and_the_benchmarks_ids(tmp_path):
    root, _ = build_magicbrush(tmp_path / "mb")
    pairs = {p.id: p for p in corpus_reader("magicbrush")(str(root))}
    assert pairs["magicbrush/test/1001-2"].mask is None
    assert pairs["magicbrush/test/1001-1"].mask.endswith("test/images/1001/1001-mask1.png")
    assert pairs["magicbrush/test/1001-2"].original == pairs["magicbrush/test/1001-1"].edited  # turn chaining
    assert load_pair_arrays(pairs["magicbrush/test/1001-1"])["mask"].sum() == 12
    from sigma.eval.benchmarks import benchmark_loader

    bench = [p.id for p in benchmark_loader("magicbrush")(str(root))]
    assert bench == ["magicbrush/test/1001-1", "magicbrush/test/1002-1"]  # the benchmark still skips it


def test_extra_columns_and_alternatives_are_kept(tmp_path):
    root, _ = build_anyedit(tmp_path / "a")
    first = next(iter(corpus_reader("anyedit")(str(root))))
    assert (first.model_extra["image_id"], first.model_extra["output"]) == ("COCO_1", "a green small airplane")
    root, _ = build_omniedit(tmp_path / "o")
    first = next(iter(corpus_reader("omniedit")(str(root))))
    assert first.model_extra["instruction_alternatives"] == ["Put a red hat on him"]
    root, _ = build_table(tmp_path / "t")
    pairs = list(corpus_reader("table")(str(root)))
    assert pairs[0].mask.endswith("img/a_m.png") and pairs[1].mask is None


@pytest.mark.parametrize("name", NEW)
def test_wrong_layout_raises_corpus_layout_error(name, tmp_path):
    empty = tmp_path / "empty"
    (empty / "train").mkdir(parents=True)
    (empty / "train" / "notes.txt").write_text("not a corpus")
    for root in (empty, tmp_path / "missing", tmp_path / "missing.jsonl"):
        with pytest.raises(CorpusLayoutError, match=name):
            corpus_reader(name)(str(root))  # at the call, before any iteration


@pytest.mark.parametrize("name", NEW)
def test_a_malformed_metadata_line_becomes_an_invalid_pair(name, tmp_path):
    root, expected = BUILDERS[name](tmp_path / name, bad=True)
    pairs = list(corpus_reader(name)(str(root)))
    invalid = [p for p in pairs if "invalid_reason" in p.model_extra]
    assert len(invalid) == 1 and len(pairs) == len(expected) + 1
    bad = invalid[0]
    assert bad.original == bad.edited == "invalid" and bad.source == name
    assert bad.id.startswith(f"{name}/")
    assert "not valid JSON" in bad.model_extra["invalid_reason"] or "CSV fields" in bad.model_extra["invalid_reason"]
    assert str(tmp_path) in bad.model_extra["invalid_reason"]  # names the metadata file
    assert [p.id for p in pairs if p is not bad] == list(expected)


@pytest.mark.parametrize("name", sorted(TABLE_READERS))
def test_a_row_without_an_edited_image_is_invalid_but_optional_fields_are_not(name, tmp_path):
    cols = TABLE_READERS[name].COLUMNS
    rows = [
        {cols.original[0]: "a.png", cols.instruction[0]: "no edited image"},
        {cols.original[0]: "a.png", cols.edited[0]: "b.png"},  # no instruction, id or category
        {cols.original[0]: "a.png", cols.edited[0]: "c.png", cols.id[0]: " "},
    ]  # a blank id: as if absent
    _jsonl(tmp_path / "metadata.jsonl", rows, bad=False)
    first, second, third = corpus_reader(name)(str(tmp_path))
    assert third.id == (f"{name}/line-3" if name == "table" else f"{name}/c")
    assert first.id == f"{name}/line-1" and "no edited image" in first.model_extra["invalid_reason"]
    assert second.edited == str(tmp_path / "b.png") and second.instruction == "" and second.edit_type is None
    assert "invalid_reason" not in second.model_extra


@pytest.mark.parametrize("name", sorted(TABLE_READERS))
def test_readers_stream_the_metadata(name, tmp_path, monkeypatch):
    """The first pair comes after reading one line of a 5,000-line table; reading it whole fails."""
    cols = TABLE_READERS[name].COLUMNS
    rows = [
        {cols.original[0]: f"a{i}.png", cols.edited[0]: f"b{i}.png", cols.instruction[0]: f"edit {i}"}
        for i in range(5000)
    ]
    _jsonl(tmp_path / "metadata.jsonl", rows, bad=False)
    consumed = []
    real_iter_lines = storage.iter_lines

    def counting_iter_lines(uri):
        for line in real_iter_lines(uri):
            consumed.append(uri)
            yield line

    def no_whole_reads(uri):
        raise AssertionError(f"read whole: {uri}")

    monkeypatch.setattr(storage, "iter_lines", counting_iter_lines)
    monkeypatch.setattr(storage, "read_bytes", no_whole_reads)
    pairs = corpus_reader(name)(str(tmp_path))
    assert consumed == []  # nothing read before iteration starts
    first = next(iter(pairs))
    assert first.instruction == "edit 0" and len(consumed) <= 2
    assert sum(1 for _ in pairs) == 4999 and len(consumed) == 5000


@pytest.mark.integration
@pytest.mark.parametrize("name", NEW)
def test_readers_read_an_s3_replica(name, moto_s3, tmp_path):  # noqa: F811
    import boto3

    base = tmp_path / "local"
    root, expected = BUILDERS[name](base)
    client = boto3.client("s3", endpoint_url=moto_s3)
    client.create_bucket(Bucket="corpora")
    for path in sorted(base.rglob("*")):
        if path.is_file():
            client.put_object(Bucket="corpora", Key=f"c/{path.relative_to(base).as_posix()}", Body=path.read_bytes())
    rel = Path(root).relative_to(base).as_posix()
    uri = "s3://corpora/c" + ("" if rel == "." else f"/{rel}")
    remote = list(corpus_reader(name)(uri))
    local = list(corpus_reader(name)(str(root)))
    assert [p.id for p in remote] == [p.id for p in local] == list(expected)
    assert [p.instruction for p in remote] == [p.instruction for p in local]
    for r, loc in zip(remote, local, strict=True):
        assert r.edited.startswith("s3://corpora/c/")
        a, b = load_pair_arrays(r), load_pair_arrays(loc)
        assert np.array_equal(a["original"], b["original"]) and np.array_equal(a["edited"], b["edited"])
    with pytest.raises(CorpusLayoutError):
        corpus_reader(name)("s3://corpora/nothing-here")
