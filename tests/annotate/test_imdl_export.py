"""The IMDL-BenCo export: one file for a corpus without splits, paths relative to it or absolute, negatives once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sigma.annotate.imdl import export_path
from sigma.annotate.run import annotate_corpus
from tests.annotate.outputs import copy_edit_corpus
from tests.conftest import tiny_params

ANNOTATE = ["annotate.shard_size=4", "annotate.batch_size=4", "annotate.workers=0"]


def test_the_export_of_a_corpus_without_splits_is_one_file_with_each_original_once(
    tiny_project, tmp_path, tiny_checkpoint, monkeypatch
):
    monkeypatch.chdir(tiny_project)
    root = tmp_path / "corpus"
    pairs = [p.model_copy(update={"split": None}) for p in copy_edit_corpus(tiny_project, root)[:5]]
    shared = pairs[0].original
    pairs = [pairs[0], pairs[1].model_copy(update={"id": "same-original", "original": shared}), *pairs[2:]]
    (root / "manifest.jsonl").write_text("".join(p.to_json() + "\n" for p in pairs))
    out = tmp_path / "out"
    summary = annotate_corpus(tiny_params(*ANNOTATE), str(root), str(out), tiny_checkpoint, track=False)
    assert sorted(p.name for p in out.glob("imdlbenco*.json")) == ["imdlbenco.json"]
    entries = json.loads((out / "imdlbenco.json").read_text())
    negatives = [e[0] for e in entries if e[1] == "Negative"]
    assert len(negatives) == len(set(negatives)) == len({p.original for p in pairs}) == summary["imdlbenco_negatives"]
    paths = [path for entry in entries for path in entry if path != "Negative"]
    assert all(not path.startswith("/") and (out / path).is_file() for path in paths)  # relative to the file
    cfg = tiny_params(*ANNOTATE, "annotate.negatives=false", "annotate.export_paths=absolute")
    plain = annotate_corpus(cfg, str(root), str(tmp_path / "plain"), tiny_checkpoint, track=False)
    assert plain["imdlbenco_negatives"] == 0
    entries = json.loads((tmp_path / "plain/imdlbenco.json").read_text())
    assert all(e[1] != "Negative" and Path(e[0]).is_absolute() and Path(e[1]).is_file() for e in entries)


@pytest.mark.parametrize(
    ("path", "out", "relative", "expected"),
    [
        ("s3://b/corpus/a.png", "s3://b/runs/one", True, "../../corpus/a.png"),
        ("s3://other/a.png", "s3://b/runs/one", True, "s3://other/a.png"),  # another bucket
        ("s3://b/corpus/a.png", "s3://b/runs/one", False, "s3://b/corpus/a.png"),
        ("/data/corpus/a.png", "s3://b/runs/one", True, "/data/corpus/a.png"),  # a local corpus, an S3 OUT
        ("/data/corpus/a.png", "/data/out", True, "../corpus/a.png"),
        ("/data/out/masks/a.png", "/data/out", False, "/data/out/masks/a.png"),
    ],
)
def test_export_paths_are_relative_to_the_export_file_where_both_share_a_filesystem(path, out, relative, expected):
    assert export_path(path, out, relative) == expected
