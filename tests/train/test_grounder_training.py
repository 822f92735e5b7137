"""The learned grounder's training stage on real COCO photos (tiny: small input, few epochs)."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sigma.config import SourceParams, load_params
from sigma.data.photos import iter_coco
from sigma.model.backbones import build_backbone
from sigma.model.grounding import build_grounder
from sigma.train.grounder import train_grounder_stage
from tests.conftest import ROOT


def _params(coco_tiny, tmp_path, **train):
    source = SourceParams(
        kind="coco",
        path=str(coco_tiny / "train2017"),
        annotations=str(coco_tiny / "annotations" / "instances_train2017.json"),
    )
    base = load_params(ROOT / "params.yaml", ["model.backbone.input_size=128", "data.max_side=160"])
    data = base.data.model_copy(update={"sources": [source]})
    grounder = base.model.grounder.model_copy(update={"weights": str(tmp_path / "head.safetensors")})
    model = base.model.model_copy(update={"grounder": grounder})
    cfg = base.train_grounder.model_copy(
        update={"out": str(tmp_path / "head.safetensors"), "folds_out": str(tmp_path / "folds"), **train}
    )
    return base.model_copy(update={"data": data, "model": model, "train_grounder": cfg})


def test_trained_head_grounds_concepts_better_than_whole_image(coco_tiny, tmp_path):
    params = _params(coco_tiny, tmp_path, epochs=20, batch_size=16, lr=3e-3)
    summary = train_grounder_stage(params, metrics=tmp_path / "grounder.json", track=False)

    assert json.loads((tmp_path / "grounder.json").read_text()) == summary
    assert summary["n_held_out_triples"] > 0 and summary["held_out"]["n_concepts"] > 0
    # Predicting the whole image scores the mean GT area as IoU; the head must beat it on what it saw.
    whole_image = summary["mean_target_area"]
    assert summary["train"]["miou"] > whole_image + 0.1, summary
    assert 0 <= summary["held_out"]["miou"] <= 1

    # The saved head loads through the registry and finds, in photos it trained on, the objects named.
    backbone = build_backbone(params.model.backbone)
    grounder = build_grounder(params.model.grounder, backbone)
    source = params.data.sources[0]
    photos = [p for p in iter_coco(source.path, str(source.annotations)) if p.instances]
    picked = [(p, max(p.instances, key=lambda i: i.area)) for p in photos]
    picked = sorted(picked, key=lambda pi: -pi[1].area)[:4]  # the largest objects: a 16x16 map resolves them
    images = torch.stack(
        [
            F.interpolate(torch.from_numpy(p.image).permute(2, 0, 1)[None].float() / 255, size=(128, 128))[0]
            for p, _ in picked
        ]
    )
    maps = grounder.ground(images, [f"a {instance.category}" for _, instance in picked])
    assert len(maps) == len(picked) and all(m is not None for m in maps)  # the objects are there: found
    inside_beats_outside = 0
    for m, (_, instance) in zip(maps, picked, strict=True):
        assert m.shape == (16, 16) and 0 <= float(m.min()) <= float(m.max()) <= 1
        mask = F.interpolate(torch.from_numpy(instance.mask)[None, None].float(), size=(16, 16))[0, 0] > 0.5
        inside_beats_outside += float(m[mask].mean()) > float(m[~mask].mean())
    assert inside_beats_outside >= len(picked) - 1, "the maps do not point at the named objects"
    # The head records what it was taught (the categories its training photos showed), so the split trusts
    # those concepts and no others: not a category met only in held-out photos, nor one never seen.
    categories = {i.category for p in photos for i in p.instances}
    taught = set(grounder.vocabulary)
    assert taught and taught <= categories
    assert all(grounder.knows(f"a {c}") for c in taught) and not grounder.knows("hexagon")
    assert not any(grounder.knows(c) for c in categories - taught)


def test_sources_without_instances_are_a_clear_error(tmp_path):
    from sigma.data.images import encode_png

    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.png").write_bytes(encode_png(np.zeros((40, 40, 3), np.uint8)))
    base = load_params(ROOT / "params.yaml")
    data = base.data.model_copy(update={"sources": [SourceParams(kind="folder", path=str(tmp_path / "photos"))]})
    with pytest.raises(FileNotFoundError, match="instance masks"):
        train_grounder_stage(base.model_copy(update={"data": data}), out=tmp_path / "h.safetensors", track=False)
