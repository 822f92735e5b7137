"""``sigma annotate --model method:NAME``: an evaluation method labels a corpus through the same engine,
its masks exactly the method's, its records naming it."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from sigma.annotate.methods import MethodAnnotator
from sigma.annotate.run import annotate_corpus
from sigma.data.pairs import read_manifest
from sigma.eval.methods import build_method
from tests.annotate.outputs import copy_edit_corpus
from tests.conftest import tiny_params


def test_a_method_annotates_with_its_own_masks(tiny_project, tmp_path, monkeypatch):
    monkeypatch.chdir(tiny_project)
    root, out = tmp_path / "corpus", tmp_path / "out"
    copy_edit_corpus(tiny_project, root)
    params = tiny_params("annotate.shard_size=8", "annotate.min_area=0")
    summary = annotate_corpus(params, str(root), str(out), "method:pixdiff_morph", track=False)
    assert summary["annotated"] == summary["pairs"] > 0

    method = build_method("pixdiff_morph")
    records = {json.loads(line)["id"]: json.loads(line) for line in (out / "annotations.jsonl").open()}
    for pair in read_manifest(str(root)):
        original, edited = (np.asarray(Image.open(p).convert("RGB")) for p in (pair.original, pair.edited))
        [expected] = method.predict([(original, edited, pair.instruction)])
        record = records[pair.id]
        got = np.asarray(Image.open(out / record["mask"])) > 0
        np.testing.assert_array_equal(got, expected.mask, err_msg=pair.id)
        assert record["model_uri"] == "method:pixdiff_morph" and record["mask_side"] is None
    imdl = json.loads((out / "imdlbenco.train.json").read_text())
    assert any(mask == "Negative" for _, mask in imdl)


def test_the_digest_names_the_method_and_the_weights_it_pins(tiny_checkpoint):
    pinned = MethodAnnotator(f"method:instruction_only@{tiny_checkpoint}")
    assert pinned.digest() != MethodAnnotator("method:pixdiff_morph").digest()
    assert MethodAnnotator(f"method:instruction_only@{tiny_checkpoint}").digest() == pinned.digest()
