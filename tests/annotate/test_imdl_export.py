"""The IMDL-BenCo export of a corpus without splits: one file, absolute paths, negatives once."""

from __future__ import annotations

import json

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
    assert all(e[0].startswith("/") and (e[1] == "Negative" or e[1].startswith("/")) for e in entries)
    cfg = tiny_params(*ANNOTATE, "annotate.negatives=false")
    plain = annotate_corpus(cfg, str(root), str(tmp_path / "plain"), tiny_checkpoint, track=False)
    assert plain["imdlbenco_negatives"] == 0
    assert all(e[1] != "Negative" for e in json.loads((tmp_path / "plain/imdlbenco.json").read_text()))
