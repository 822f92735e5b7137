"""A corpus that grows by appending (the scheduled annotation over a corpus prefix): ``--resume`` keeps
the committed shards, redoes the grown last one, and keeps the model version the run started with."""

from __future__ import annotations

import json

import pytest

from sigma.annotate.run import annotate_corpus
from sigma.data.pairs import write_manifest
from tests.annotate.outputs import copy_edit_corpus, snapshot
from tests.conftest import tiny_params
from tests.registry_fixtures import register_constant_annotator, registry  # noqa: F401 (fixture)

ANNOTATE = ["annotate.shard_size=5", "annotate.batch_size=4", "annotate.workers=0"]


@pytest.fixture
def growing(tiny_project, tmp_path, monkeypatch):
    """``(root, pairs)``: a corpus folder holding the tiny edit set's first 7 pairs (shards of 5 + 2)."""
    monkeypatch.chdir(tiny_project)
    root = tmp_path / "corpus"
    pairs = copy_edit_corpus(tiny_project, root)
    assert len(pairs) >= 12
    write_manifest(str(root), pairs[:7])
    return root, pairs


def test_a_grown_corpus_resumes_to_the_result_of_annotating_it_whole(growing, tmp_path, tiny_checkpoint):
    root, pairs = growing
    params = tiny_params(*ANNOTATE)
    out = tmp_path / "out"
    annotate_corpus(params, str(root), str(out), tiny_checkpoint, track=False)
    first_shard = (out / "shards/000000.done.json").read_text()

    write_manifest(str(root), pairs)
    summary = annotate_corpus(params, str(root), str(out), tiny_checkpoint, resume=True, track=False)
    annotate_corpus(params, str(root), str(tmp_path / "whole"), tiny_checkpoint, track=False)
    assert summary["pairs"] == len(pairs)
    assert (out / "shards/000000.done.json").read_text() == first_shard  # a full shard is never redone
    assert snapshot(out) == snapshot(tmp_path / "whole")


def test_a_corpus_changed_other_than_by_appending_is_refused(growing, tmp_path, tiny_checkpoint):
    root, pairs = growing
    params = tiny_params(*ANNOTATE)
    out = tmp_path / "out"
    annotate_corpus(params, str(root), str(out), tiny_checkpoint, track=False)
    write_manifest(str(root), pairs[:5] + pairs[6:9])  # pair 5, in the partial shard, disappeared
    with pytest.raises(ValueError, match="other than by appending"):
        annotate_corpus(params, str(root), str(out), tiny_checkpoint, resume=True, track=False)


def test_a_resumed_run_keeps_its_model_version_when_the_alias_moves(growing, tmp_path, registry):  # noqa: F811
    root, pairs = growing
    params = tiny_params(*ANNOTATE)
    marks_all = register_constant_annotator(params, 20.0)
    registry.set_registered_model_alias("sigma-annotator", "champion", marks_all)
    out, champion = tmp_path / "out", "models:/sigma-annotator@champion"
    first = annotate_corpus(params, str(root), str(out), champion, track=False)
    assert first["model_loaded"] == f"models:/sigma-annotator/{marks_all}"

    marks_none = register_constant_annotator(params, -20.0)
    registry.set_registered_model_alias("sigma-annotator", "champion", marks_none)
    write_manifest(str(root), pairs)
    annotate_corpus(params, str(root), str(out), champion, resume=True, track=False)
    records = [json.loads(line) for line in (out / "annotations.jsonl").read_text().splitlines()]
    assert len(records) == len(pairs)
    assert {r["model_version"] for r in records} == {first["model_version"]}  # the weights' digest
    assert all(r["area"] == 1.0 for r in records)

    fresh = annotate_corpus(params, str(root), str(tmp_path / "fresh"), champion, track=False)
    assert fresh["model_loaded"] == f"models:/sigma-annotator/{marks_none}"
    assert fresh["model_version"] != first["model_version"]
