"""Cross-fitted grounding: each training pair's intent map comes from a head that never saw its photo."""

import json
from types import SimpleNamespace

import pytest
import torch
from safetensors import safe_open

from sigma.config import SourceParams
from sigma.data.dataset import EditPairDataset
from sigma.data.synth import fold_of
from sigma.model.build import build_sigma
from sigma.model.grounding.learned import HEAD_KEY
from sigma.train import grounder as grounder_stage
from sigma.train.batches import precompute_intents
from sigma.train.crossfit import FOLD_KEY, fold_priors
from tests.conftest import tiny_params


def test_folds_are_deterministic_balanced_and_keep_a_mirror_with_its_photo():
    ids = [f"builtin:scene_{i:04d}.png" for i in range(400)]
    folds = [fold_of(i, 3) for i in ids]
    assert folds == [fold_of(i, 3) for i in ids]
    assert [fold_of(f"{i}#flip", 3) for i in ids] == folds
    for k in range(3):
        assert 0.25 < folds.count(k) / len(ids) < 0.42, k


class ConstantPrior:
    """Stands in for an IntentPrior: every map is ``value`` (which prior grounded a pair)."""

    def __init__(self, value: float):
        self.value = value

    def __call__(self, originals, editeds, instructions, grid):
        return torch.full((len(originals), 1, *grid), self.value), []


def test_each_pair_is_grounded_by_the_fold_of_its_source_photo(tiny_project):
    pairs = EditPairDataset(str(tiny_project / "data" / "synth" / "inpaint"))
    pairs.pairs[0].source = None  # a pair that does not name its photo
    model = SimpleNamespace(prior=ConstantPrior(-1.0), input_size=32, grid=lambda: (4, 4))
    priors = [ConstantPrior(float(k)) for k in range(3)]

    intents = precompute_intents(model, pairs, batch_size=5, priors=priors)

    assert set(intents) == {p.id for p in pairs.pairs}
    sources = {p.id: p.source for p in pairs.pairs}
    assert len({fold_of(s, 3) for s in sources.values() if s}) > 1  # the check below sees several folds
    for pair_id, source in sources.items():
        expected = fold_of(source, 3) if source else -1.0
        assert torch.equal(intents[pair_id], torch.full((1, 4, 4), float(expected))), pair_id
    # Without folds every pair takes the model's own prior.
    assert all(float(m.max()) == -1.0 for m in precompute_intents(model, pairs, priors=None).values())


def _save_heads(model, folder, folds: list[dict]) -> list[dict]:
    states = []
    for k, fold in enumerate(folds):
        torch.manual_seed(k + 1)
        head = type(model.grounder.head)(model.backbone.channels, model.grounder.text_encoder.dim, 8)
        grounder_stage._save_head(head, folder / f"fold{k}.safetensors", tiny_params().model, fold)
        states.append(head.state_dict())
    return states


def test_fold_heads_load_as_priors_sharing_the_model_and_a_wrong_set_is_refused(tmp_path):
    params = tiny_params("model.grounder.name=learned", "model.grounder.weights=null", "model.grounder.dim=8")
    model = build_sigma(params.model, params.parse)
    states = _save_heads(model, tmp_path / "folds", [{"fold": 0, "folds": 2}, {"fold": 1, "folds": 2}])

    priors = fold_priors(model, tmp_path / "folds")

    assert priors is not None and len(priors) == 2
    for prior, state in zip(priors, states, strict=True):
        assert prior.grounder.backbone is model.backbone and prior.parser is model.prior.parser
        for name, tensor in prior.grounder.head.state_dict().items():
            assert torch.equal(tensor, state[name]), name
    assert not torch.equal(priors[0].grounder.head.bias, model.grounder.head.bias) or not torch.equal(
        priors[0].grounder.head.query.weight, model.grounder.head.query.weight
    )

    _save_heads(model, tmp_path / "mixed", [{"fold": 0, "folds": 3}, {"fold": 1, "folds": 3}])
    with pytest.raises(ValueError, match="another cross-fitting"):
        fold_priors(model, tmp_path / "mixed")
    with pytest.raises(FileNotFoundError, match="train_grounder.folds"):
        fold_priors(model, tmp_path / "absent")
    # A model without the learned grounder has nothing that saw the photos.
    assert fold_priors(build_sigma(tiny_params().model, params.parse), tmp_path / "absent") is None


def test_no_fold_head_trains_on_its_own_folds_photos_and_the_full_head_is_unchanged(coco_tiny, tmp_path, monkeypatch):
    source = SourceParams(
        kind="coco",
        path=str(coco_tiny / "train2017"),
        annotations=str(coco_tiny / "annotations" / "instances_train2017.json"),
    )
    base = tiny_params("model.backbone.input_size=96", "data.max_side=128", "train_grounder.epochs=2")
    data = base.data.model_copy(update={"sources": [source]})

    def params(folds: int, name: str):
        cfg = base.train_grounder.model_copy(
            update={"folds": folds, "out": str(tmp_path / f"{name}.safetensors"), "folds_out": str(tmp_path / name)}
        )
        return base.model_copy(update={"data": data, "train_grounder": cfg})

    seen: list[set[str]] = []
    real_fit = grounder_stage.fit_head

    def spy(head, feats, train, embed, cfg, rng, desc):
        photos = spy.photos
        seen.append({photos[t.photo].id for t in train})
        return real_fit(head, feats, train, embed, cfg, rng, desc)

    real_features = grounder_stage.photo_features

    def features(backbone, photos, batch_size=16):
        spy.photos = photos
        return real_features(backbone, photos, batch_size)

    monkeypatch.setattr(grounder_stage, "fit_head", spy)
    monkeypatch.setattr(grounder_stage, "photo_features", features)
    summary = grounder_stage.train_grounder_stage(params(2, "crossfit"), track=False)
    monkeypatch.undo()

    assert len(seen) == 3  # the full head, then one per fold
    for k, photos in enumerate(seen[1:]):
        assert photos and all(fold_of(p, 2) != k for p in photos), k
        assert seen[0] > photos  # the full head saw them and the other fold's photos too
    for k in range(2):
        with safe_open(str(tmp_path / "crossfit" / f"fold{k}.safetensors"), "pt") as f:
            # one metadata key: safetensors writes several in hash order, so the bytes would vary per run
            assert list(f.metadata()) == [HEAD_KEY]
            assert json.loads(f.metadata()[HEAD_KEY])[FOLD_KEY] == {"fold": k, "folds": 2}
    assert summary["cross_fit"]["folds"] == 2 and 0 <= summary["cross_fit"]["out_of_fold_miou"] <= 1
    assert not (tmp_path / "crossfit.partial").exists()

    grounder_stage.train_grounder_stage(params(0, "plain"), track=False)
    assert (tmp_path / "plain.safetensors").read_bytes() == (tmp_path / "crossfit.safetensors").read_bytes()
    assert not (tmp_path / "plain").exists()
