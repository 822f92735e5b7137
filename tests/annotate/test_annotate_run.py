"""Corpus annotation on the tiny project: outputs, rejects, filters, resume refusal, and agreement
with `sigma evaluate` on the same pairs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sigma.annotate.finalize import keep_for_training
from sigma.annotate.layout import mask_name
from sigma.annotate.run import annotate_corpus, plan_shards
from sigma.config import BenchmarkSpec
from sigma.data.dataset import load_pair_arrays
from sigma.data.images import decode_image, decode_mask, encode_png
from sigma.data.pairs import read_manifest, write_manifest
from sigma.eval.benchmarks import iter_benchmark
from sigma.eval.evaluate import evaluate
from sigma.eval.methods import build_method
from sigma.eval.metrics import summarise
from sigma.model.parsing import ParsedInstruction
from tests.annotate.outputs import copy_edit_corpus, snapshot
from tests.conftest import tiny_params

ANNOTATE = ["annotate.shard_size=5", "annotate.batch_size=4", "annotate.workers=0", "validate.max_instruction_chars=60"]


@pytest.fixture
def corpus(tiny_project, tmp_path, monkeypatch):
    """The tiny edit set plus one bad pair of each kind, as a corpus in its own folder."""
    monkeypatch.chdir(tiny_project)
    root = tmp_path / "corpus"
    pairs = copy_edit_corpus(tiny_project, root)
    good = pairs[0]
    small = decode_image((root / good.original).read_bytes())[:20, :20]
    (root / "images/small.png").write_bytes(encode_png(small))
    (root / "images/corrupt.png").write_bytes(b"\x89PNG garbage")
    bad = [
        good.model_copy(update={"id": "missing", "edited": "images/nope.png"}),
        good.model_copy(update={"id": "corrupt", "edited": "images/corrupt.png"}),
        good.model_copy(update={"id": "mismatch", "edited": "images/small.png"}),
        good.model_copy(update={"id": "chatty", "instruction": "remove " + "the red thing " * 10}),
    ]
    unsure = good.model_copy(update={"id": "unsure", "instruction": "remove it"})
    write_manifest(str(root), pairs[:7] + bad + [unsure] + pairs[7:])
    return root


def test_annotation_writes_masks_records_rejects_and_the_imdlbenco_list(corpus, tmp_path, tiny_checkpoint):
    out = tmp_path / "out"
    summary = annotate_corpus(tiny_params(*ANNOTATE), str(corpus), str(out), tiny_checkpoint, track=False)
    pairs = read_manifest(str(corpus))
    assert summary["pairs"] == len(pairs) and summary["rejected"] == 4
    assert summary["rejects_by_reason"] == {
        "corrupt_image": 1,
        "instruction_too_long": 1,
        "missing_file": 1,
        "size_mismatch": 1,
    }
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rejects] == ["missing", "corrupt", "mismatch", "chatty"]
    records = [json.loads(line) for line in (out / "annotations.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == [p.id for p in pairs if p.id not in {r["id"] for r in rejects}]
    for record in records:
        mask_bytes = (out / record["mask"]).read_bytes()
        edited = decode_image(Path(record["edited"]).read_bytes())
        mask = decode_mask(mask_bytes)
        assert mask.shape == edited.shape[:2]
        assert record["area"] == pytest.approx(mask.mean(), abs=1e-6)
        assert record["model_version"].startswith("sha256:")
        parsed = ParsedInstruction.model_validate(record["parsed"])
        expected_prior = "instruction" if parsed.edits and parsed.confidence >= 0.5 else "uniform"
        assert record["prior"].split(":")[0] == expected_prior, record
    unsure = next(r for r in records if r["id"] == "unsure")
    assert unsure["parsed"]["action"] == "remove" and unsure["parsed"]["original"] is None
    assert unsure["prior"].startswith("uniform: parse confidence") and "parse.min_confidence 0.5" in unsure["prior"]
    assert sorted(p.name for p in (out / "masks").iterdir()) == sorted(mask_name(r["id"]) for r in records)
    # IMDL-BenCo: one file per split, paths relative to the file (OUT), each original once as a negative.
    cfg = tiny_params(*ANNOTATE).annotate
    splits = sorted({r["split"] for r in records})
    assert splits and None not in splits  # the tiny corpus has splits...
    assert json.loads((out / "imdlbenco.json").read_text()) == []  # ...so no pair is in the split-less file
    negatives = []

    def resolved(path: str) -> str:
        return str((out / path).resolve())

    def kept(r: dict) -> bool:  # the export's rules, stated here rather than taken from the code under test
        area_ok = cfg.min_area <= r["area"] <= cfg.max_area and r["score"] >= cfg.min_confidence
        return area_ok and not (cfg.skip_global and r["parsed"]["action"] == "global")

    by_mask = {str((out / r["mask"]).resolve()): r["id"] for r in records}
    exported = []
    for split in splits:
        entries = json.loads((out / f"imdlbenco.{split}.json").read_text())
        pairs_here = [[resolved(e[0]), resolved(e[1])] for e in entries if e[1] != "Negative"]
        exported += [by_mask[mask] for _, mask in pairs_here]
        assert pairs_here == [
            [str(Path(r["edited"]).resolve()), str((out / r["mask"]).resolve())]
            for r in records
            if r["split"] == split and kept(r)
        ]
        negatives += [resolved(e[0]) for e in entries if e[1] == "Negative"]
    assert exported and "unsure" in exported  # some pairs are kept, a known one among them
    assert not {"missing", "corrupt", "mismatch", "chatty"} & set(exported)
    assert sorted(negatives) == sorted({str(Path(r["original"]).resolve()) for r in records})
    assert summary["imdlbenco_negatives"] == len(negatives)
    assert sum(summary["imdlbenco_filtered"].values()) == sum(not keep_for_training(r, cfg) for r in records)
    assert (out / "area_histogram.png").stat().st_size > 0
    assert not (out / ".staging").exists() or not any((out / ".staging").iterdir())


def test_annotated_masks_score_like_sigma_evaluate_on_the_same_pairs(corpus, tmp_path, tiny_checkpoint):
    params = tiny_params(*ANNOTATE, "annotate.batch_size=8", "evaluate.batch_size=8")
    out = tmp_path / "out"
    annotate_corpus(params, str(corpus), str(out), tiny_checkpoint, track=False)
    records = {
        json.loads(line)["id"]: json.loads(line) for line in (out / "annotations.jsonl").read_text().splitlines()
    }
    pairs = [p for p in iter_benchmark(BenchmarkSpec(name="c", path=str(corpus))) if p.id in records]
    truths = [load_pair_arrays(p)["mask"] for p in pairs]
    annotated = summarise([decode_mask((out / records[p.id]["mask"]).read_bytes()) for p in pairs], truths)
    evaluated = evaluate(build_method("sigma", model=tiny_checkpoint, batch_size=8), pairs, batch_size=8).summary
    for key in ("f1", "iou", "f1_pooled", "iou_pooled"):
        assert annotated[key] == pytest.approx(evaluated[key], abs=1e-9)


def test_out_with_a_run_needs_resume_and_resume_needs_the_same_settings(corpus, tmp_path, tiny_checkpoint):
    out = tmp_path / "out"
    params = tiny_params(*ANNOTATE)
    annotate_corpus(params, str(corpus), str(out), tiny_checkpoint, track=False)
    with pytest.raises(ValueError, match="--resume"):
        annotate_corpus(params, str(corpus), str(out), tiny_checkpoint, track=False)
    with pytest.raises(ValueError, match="shard_size"):
        annotate_corpus(
            tiny_params(*ANNOTATE, "annotate.shard_size=3"),
            str(corpus),
            str(out),
            tiny_checkpoint,
            resume=True,
            track=False,
        )
    before = (out / "annotations.jsonl").read_bytes()
    again = annotate_corpus(params, str(corpus), str(out), tiny_checkpoint, resume=True, track=False)
    assert (out / "annotations.jsonl").read_bytes() == before and again["pairs"] > 0
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "stray.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        annotate_corpus(params, str(corpus), str(tmp_path / "other"), tiny_checkpoint, track=False)


def test_resume_removes_what_a_killed_writer_left_half_written(corpus, tmp_path, tiny_checkpoint):
    out = tmp_path / "out"
    params = tiny_params(*ANNOTATE)
    annotate_corpus(params, str(corpus), str(out), tiny_checkpoint, track=False)
    expected = snapshot(out)
    leftovers = [
        out / "shards/.000001.annotations.jsonl.k9x2.tmp",
        out / ".summary.json.q1w2.tmp",
        out / ".staging/000001/masks/edit-000001.png",
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    annotate_corpus(params, str(corpus), str(out), tiny_checkpoint, resume=True, track=False)
    assert not any(path.exists() for path in leftovers)
    assert snapshot(out) == expected


def test_shards_are_planned_without_reading_the_whole_corpus(monkeypatch):
    from sigma.data.pairs import EditPair

    def endless(_spec):
        for i in range(10**9):
            yield EditPair(id=f"p{i}", original="o", edited="e")

    monkeypatch.setattr("sigma.annotate.run.open_corpus", endless)
    shards = plan_shards("anything", 4)
    first, second = next(shards), next(shards)
    assert [p.id for p in first.pairs] == ["p0", "p1", "p2", "p3"] and second.index == 1


def test_imdlbenco_filters():
    cfg = tiny_params("annotate.min_area=0.01", "annotate.min_confidence=0.5").annotate
    base = {"area": 0.1, "score": 0.9, "edit_type": "remove", "parsed": {"action": "remove"}}
    assert keep_for_training(base, cfg)
    assert not keep_for_training(base | {"area": 0.001}, cfg)
    assert not keep_for_training(base | {"score": 0.2}, cfg)
    assert not keep_for_training(base | {"parsed": {"action": "global"}}, cfg)
    assert keep_for_training(base | {"parsed": {"action": "global"}}, cfg.model_copy(update={"skip_global": False}))


def test_mask_names_are_safe_and_distinct():
    assert mask_name("edit-000001") == "edit-000001.png"
    a, b = mask_name("anyedit/a b"), mask_name("anyedit/a_b")
    assert "/" not in a and " " not in a and a != b
    assert np.unique([mask_name(x) for x in ("x/y", "x_y", "x:y", ".hidden")]).size == 4
