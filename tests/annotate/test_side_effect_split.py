"""The intended / side-effect split of an annotation run: known only where the instruction was grounded;
``masks_side/``, ``masks_intended/`` and the ``intended`` export only for those pairs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import sigma.annotate.shard as shard
from sigma.annotate.run import annotate_corpus
from sigma.data.images import decode_mask
from sigma.data.pairs import write_manifest
from sigma.model.grounding.base import NoGrounder
from sigma.model.parsing import ParsedInstruction
from sigma.model.parsing.base import Edit
from sigma.model.prior import IntentPrior
from tests.annotate.outputs import copy_edit_corpus, truth_outputs
from tests.conftest import tiny_params

ANNOTATE = ["annotate.shard_size=5", "annotate.batch_size=4", "annotate.workers=0"]
EPS = 0.001


def _prior() -> IntentPrior:
    return IntentPrior(parser=None, grounder=NoGrounder(), eps=EPS, min_confidence=0.5)


def _parse(action: str, confidence: float = 1.0, original: str = "cat", edited: str | None = None) -> ParsedInstruction:
    return ParsedInstruction.of([Edit(original=original, edited=edited, action=action)], confidence)


@pytest.mark.parametrize(
    "parsed, found, reason",
    [
        (ParsedInstruction(), True, "no instruction prior: no edit found"),
        (_parse("remove", confidence=0.3), True, "no instruction prior: parse confidence 0.30"),
        (_parse("global"), True, "a global edit"),
        (_parse("remove"), False, "the grounder found none"),
        (_parse("remove", original="the region"), True, "the instruction names no particular object ('the region')"),
        (_parse("replace", original="cat", edited="a part"), True, "the instruction names no particular object"),
        # A concept the intent map does not read cannot make the split a guess: "add" grounds the edited image.
        (_parse("add", original="area", edited="red car"), True, None),
        (_parse("attribute_change", original="grey region", edited="blue region"), True, None),
        (_parse("remove"), True, None),
    ],
)
def test_the_split_is_unknown_without_a_grounded_instruction(parsed, found, reason):
    intent = torch.full((8, 8), EPS)
    if found:
        intent[2:5, 2:5] = 0.9
    got = _prior().unknown_split_reason(parsed, intent)
    assert got == reason if reason is None else got.startswith(reason)


def test_the_split_is_unknown_for_a_concept_the_grounder_was_never_taught():
    class Closed(NoGrounder):
        def knows(self, concept: str) -> bool:
            return concept == "cat"

    prior = IntentPrior(parser=None, grounder=Closed(), eps=EPS)
    intent = torch.full((8, 8), EPS)
    intent[2:5, 2:5] = 0.9  # found: a closed-vocabulary head maps any concept to what looks most like it
    assert prior.unknown_split_reason(_parse("remove", original="dog"), intent).startswith(
        "the grounder was never taught 'dog'"
    )
    assert prior.unknown_split_reason(_parse("remove"), intent) is None
    # "add" grounds only the edited image: an untaught original concept is never read.
    assert prior.unknown_split_reason(_parse("add", original="dog", edited="cat"), intent) is None


@pytest.fixture
def corpus(tiny_project, tmp_path, monkeypatch):
    """The tiny edit set and one pair with an unsure parse; every pair's mask its left half, of which the
    model calls the right half a side effect, and every concept found by the grounder (the tiny model
    has none), so the parse alone decides whether the split is known."""
    monkeypatch.chdir(tiny_project)
    root = tmp_path / "corpus"
    pairs = copy_edit_corpus(tiny_project, root)
    write_manifest(str(root), [*pairs, pairs[0].model_copy(update={"id": "unsure", "instruction": "remove it"})])

    def masks(logits, intent, threshold, intended_threshold, unknown_split):
        h, w = logits.shape[-2:]
        mask, side = np.zeros((h, w), bool), np.zeros((h, w), bool)
        mask[:, : w // 2] = True
        side[:, w // 4 : w // 2] = unknown_split is None
        return mask, side, 0.5

    monkeypatch.setattr(shard, "_masks", masks)
    reason = IntentPrior.unknown_split_reason
    monkeypatch.setattr(IntentPrior, "unknown_split_reason", lambda self, p, i: reason(self, p, torch.ones_like(i)))
    return root


def _records(out) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, (out / "annotations.jsonl").read_text().splitlines())}


def test_side_masks_only_where_the_split_is_known_and_the_intended_export_drops_exactly_them(
    corpus, tmp_path, tiny_checkpoint
):
    full, intended = tmp_path / "full", tmp_path / "intended"
    annotate_corpus(tiny_params(*ANNOTATE), str(corpus), str(full), tiny_checkpoint, track=False)
    params = tiny_params(*ANNOTATE, "annotate.export_mask=intended")
    annotate_corpus(params, str(corpus), str(intended), tiny_checkpoint, track=False)

    records = _records(full)
    unsure = records["unsure"]
    assert unsure["split_known"] is False and unsure["split_unknown_reason"].startswith("no instruction prior")
    assert unsure["mask_side"] is unsure["mask_intended"] is unsure["side_area"] is None
    known = [r for r in records.values() if r["split_known"]]
    assert known and all(r["parsed"]["action"] != "global" for r in known)
    assert sorted(p.name for p in (full / "masks_side").iterdir()) == sorted(
        r["mask_side"].split("/")[-1] for r in known
    )
    for r in known:
        mask, side = decode_mask((full / r["mask"]).read_bytes()), decode_mask((full / r["mask_side"]).read_bytes())
        np.testing.assert_array_equal(decode_mask((full / r["mask_intended"]).read_bytes()), mask & ~side)

    exported = {  # mask path -> its pixels, as the intended export lists them
        mask: decode_mask((intended / mask).read_bytes())
        for split in {r["split"] for r in records.values()}
        for _, mask in json.loads((intended / f"imdlbenco.{split}.json").read_text())
        if mask != "Negative"
    }
    known_exported = [r for r in known if r["mask_intended"] in exported]
    assert known_exported and not any(r["mask"] in exported for r in known)
    for r in known_exported:
        whole, side = decode_mask((full / r["mask"]).read_bytes()), decode_mask((full / r["mask_side"]).read_bytes())
        assert side.any()
        np.testing.assert_array_equal(exported[r["mask_intended"]], whole & ~side)  # exactly the side effect gone
    assert unsure["mask"] in exported  # an unknown split keeps its whole mask
    np.testing.assert_array_equal(exported[unsure["mask"]], decode_mask((full / unsure["mask"]).read_bytes()))


def test_an_exact_side_effect_with_no_drift_is_written_to_masks_side(
    tiny_project, tmp_path, monkeypatch, tiny_checkpoint
):
    """Synthesised pairs with a side effect of every kind and no drift, through the whole annotation path
    (the regions' decision, the split rule, the writes) behind a model that sees the truth: ``masks_side/``
    holds each pair's side effect, pixel for pixel."""
    from sigma.data.builtin import iter_builtin
    from sigma.data.dataset import load_pair_arrays
    from sigma.data.pairs import read_manifest
    from sigma.data.photos import fit_max_side
    from sigma.data.synth import synthesise
    from sigma.model.sigma import SigmaAnnotator

    monkeypatch.chdir(tiny_project)
    params = tiny_params(
        "data.edit.n_pairs=12",
        "data.edit.side_effect_prob=1.0",
        "data.edit.perturb.strength=[0.0,0.0]",
        "data.edit.perturb.none_prob=1.0",
        "data.edit.edit_mix={remove: 1.0, recolour: 1.0, replace: 1.0, add: 1.0}",
    )
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    synthesise("edit", [fit_max_side(p, 96) for p in iter_builtin(n_scenes=12)], params.data, corpus)
    pairs = read_manifest(str(corpus))
    truth = {}
    for pair in pairs:
        arrays = load_pair_arrays(pair)
        side = arrays["side_effect"] if arrays["side_effect"] is not None else np.zeros_like(arrays["mask"])
        truth[arrays["edited"].tobytes()] = (arrays["mask"], side)
    assert sum(p.side_effect_mask is not None for p in pairs) >= 6
    monkeypatch.setattr(SigmaAnnotator, "iter_outputs", truth_outputs(truth))
    annotate_corpus(tiny_params(*ANNOTATE), str(corpus), str(out), tiny_checkpoint, track=False)

    records = _records(out)
    for pair in pairs:
        record = records[pair.id]
        if record["split_known"] is False:
            continue
        if pair.side_effect_mask is None:
            assert record["mask_side"] is None
            continue
        expected = decode_mask((corpus / pair.side_effect_mask).read_bytes())
        np.testing.assert_array_equal(decode_mask((out / record["mask_side"]).read_bytes()), expected)
    assert sum(r["mask_side"] is not None for r in records.values()) >= 6
