"""Synthesis: deterministic, exact masks, splits by photo, instructions that parse to their tuples."""

import hashlib
import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

import sigma.data.synth as synth
from sigma.config import SIDE_EFFECT_KINDS, DataParams, ParserParams, PerturbParams, SourceParams, SynthKindParams
from sigma.data import edits
from sigma.data.builtin import iter_builtin
from sigma.data.dataset import EditPairDataset
from sigma.data.images import decode_image, decode_mask
from sigma.data.inpainters import build_inpainter
from sigma.data.photos import fit_max_side, load_photos
from sigma.data.synth import Synthesiser, split_of, synthesise
from sigma.model.parsing import RuleParser

ALL_EDITS = {"remove": 1.0, "recolour": 1.0, "replace": 1.0, "add": 1.0, "copy_move": 1.0, "global": 0.5}


def data_params(strength=(0.0, 0.0), n=24, side_effect=0.5, sources=None) -> DataParams:
    kind = SynthKindParams(
        n_pairs=n, seed=7, edit_mix=ALL_EDITS, side_effect_prob=side_effect, perturb=PerturbParams(strength=strength)
    )
    calib = SynthKindParams(n_pairs=6, seed=8, perturb=PerturbParams(strength=(0.3, 1.0)))
    return DataParams(
        sources=sources or [SourceParams(kind="builtin")],
        max_side=160,
        inpaint=kind.model_copy(update={"edit_mix": {"remove": 1.0}}),
        edit=kind,
        calib=calib,
    )


@pytest.fixture(scope="module")
def photos():
    return [fit_max_side(p, 160) for p in iter_builtin(n_scenes=12)]


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_pasted_object_is_drawn_as_from_the_list_of_other_category_donors(photos):
    """``donor_for`` bisects instead of listing a split's donors for every pair: the same draws."""
    data = data_params()
    synth = Synthesiser(photos, data, data.edit)
    categories = {i.category for _, i in synth.donors} | {"unknown"}
    for split in ("train", "val", "test", "absent"):
        for category in categories:
            listed = [(p, i) for p, i in synth.donors_by_split.get(split, []) if i.category != category]
            listed = listed or synth.donors
            for seed in range(8):
                expected = listed[np.random.default_rng(seed).integers(len(listed))]
                assert synth.donor_for(split, category, np.random.default_rng(seed)) == expected


def test_same_seed_same_bytes(tmp_path, photos):
    params = data_params(strength=(0.2, 1.0))
    synthesise("edit", photos, params, tmp_path / "a")
    synthesise("edit", photos, params, tmp_path / "b")
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    other = params.model_copy(update={"edit": params.edit.model_copy(update={"seed": 99})})
    synthesise("edit", photos, other, tmp_path / "c")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_worker_processes_draw_the_same_bytes(tmp_path, photos, monkeypatch):
    """``data.processes`` changes who draws each pair, never the pair: one stream per index."""
    params = data_params(strength=(0.2, 1.0), n=10)
    synthesise("edit", photos, params, tmp_path / "one")
    # Only the spawned workers may draw: a job built in this process means the pool was not used.
    monkeypatch.setattr(synth, "build_job", lambda *a: pytest.fail("pairs drawn in the driver"))
    summary = synthesise("edit", photos, params.model_copy(update={"processes": 2}), tmp_path / "two")
    assert summary["n_pairs"] == 10
    assert digest(tmp_path / "one") == digest(tmp_path / "two")


@pytest.mark.parametrize("kind", ["inpaint", "edit"])
def test_pixels_outside_the_mask_are_unchanged_without_perturbation(tmp_path, photos, kind):
    summary = synthesise(kind, photos, data_params(), tmp_path)
    assert summary["n_pairs"] == 24
    for item in EditPairDataset(str(tmp_path)):
        outside = item["mask"][0] == 0
        diff = (item["original"] - item["edited"]).abs().amax(0)
        assert item["mask"].sum() > 0, item["id"]
        assert (diff[outside] == 0).all(), f"{item['id']}: changed pixels outside the mask"
        # and the mask is not padding: most of it really changed
        if item["edit_type"] != "global":
            assert (diff[~outside] > 0).float().mean() > 0.3, item["id"]


def test_edit_mix_covers_every_kind_and_side_effects_join_the_mask(tmp_path, photos):
    synthesise("edit", photos, data_params(n=40), tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert {r["edit_type"] for r in rows} == {"remove", "attribute_change", "replace", "add", "copy_move", "global"}
    assert all(r["mask_area"] == 1.0 for r in rows if r["edit_type"] == "global")
    side = [r for r in rows if r.get("side_effect")]
    assert side, "side_effect_prob=0.5 produced no side effect"
    assert all(r.get("side_effect_mask") for r in side)
    assert not any(r.get("side_effect_mask") for r in rows if not r.get("side_effect"))


def test_copy_move_truth_is_exactly_the_changed_pixels(tmp_path, photos):
    params = data_params(n=24, side_effect=0.0)
    params = params.model_copy(update={"edit": params.edit.model_copy(update={"edit_mix": {"copy_move": 1.0}})})
    synthesise("edit", photos, params, tmp_path)
    copies = Counter()
    for item in EditPairDataset(str(tmp_path)):
        copies[item["meta"]["copy"]] += 1
        original, edited = (np.asarray(item[k].permute(1, 2, 0) * 255).round() for k in ("original", "edited"))
        changed = (original != edited).any(-1)
        assert (changed == (item["mask"][0].numpy() > 0)).all(), item["id"]  # no drift: truth == change
    assert copies["move"] and copies["duplicate"], copies


def test_a_duplicate_is_the_object_itself_beside_its_source(photos):
    inpaint = build_inpainter("telea", None, 1)
    checked = 0
    for i, photo in enumerate(photos[:8]):
        target = photo.instances[0]
        edit = edits.copy_move(photo, target, np.random.default_rng(i), inpaint)
        changed = (edit.edited != photo.image).any(-1)
        assert (changed == edit.mask).all()
        if edit.extra["copy"] == "move":
            assert (edit.mask & target.mask).any(), "a move changes the vacated place too"
            continue
        assert not (edit.mask & target.mask).any(), "a duplicate leaves its source as it was"
        (ys, xs), (cy, cx) = np.nonzero(target.mask), np.nonzero(changed)
        dy, dx = cy.min() - ys.min(), cx.min() - xs.min()
        inner = cv2.erode(target.mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        iy, ix = np.nonzero(inner)
        inside = (iy + dy < photo.image.shape[0]) & (ix + dx < photo.image.shape[1])
        copied = edit.edited[iy[inside] + dy, ix[inside] + dx] == photo.image[iy[inside], ix[inside]]
        assert copied.all(-1).mean() > 0.95, f"photo {i}: the pasted pixels are not the object's own"
        checked += 1
    assert checked, "no duplicate drawn"


def test_side_effect_masks_are_the_unasked_part_of_the_mask(tmp_path, photos):
    synthesise("edit", photos, data_params(n=24, side_effect=1.0), tmp_path)
    items = list(EditPairDataset(str(tmp_path)))
    assert all(item["knows_side_effect"] for item in items)
    with_side = [item for item in items if item["side_effect"].any()]
    assert with_side
    for item in with_side:
        side, mask = item["side_effect"] > 0, item["mask"] > 0
        assert (side <= mask).all(), f"{item['id']}: side effect outside the mask"
        assert (mask & ~side).any(), f"{item['id']}: nothing intended left"
        diff = (item["original"] - item["edited"]).abs().amax(0, keepdim=True)
        assert (diff[side] > 0).float().mean() > 0.5, f"{item['id']}: side-effect pixels did not change"


@pytest.mark.parametrize("kind", SIDE_EFFECT_KINDS)
def test_each_side_effect_kind_is_exactly_the_unasked_change_clear_of_the_edit(photos, kind):
    inpaint = build_inpainter("telea", None, 1)
    made = 0
    for i, photo in enumerate(photos[:10]):
        rng = np.random.default_rng(i)
        asked = edits.recolour(photo, photo.instances[0], rng)
        donor = (photos[-1 - i], photos[-1 - i].instances[0])
        edit = edits.add_side_effect(photo, asked, rng, {kind: 1.0}, inpaint, donor)
        if edit.side_effect is None:
            assert edit is asked  # no room or no bystander: the edit is left as it was
            continue
        made += 1
        assert edit.extra["side_effect_kind"] == kind
        assert not (edit.side_effect & asked.mask).any(), "the side effect overlaps the asked-for edit"
        assert np.array_equal(edit.side_effect, (edit.edited != asked.edited).any(-1)), "side effect != its change"
        assert np.array_equal(edit.mask, asked.mask | edit.side_effect)
        assert np.array_equal(edit.edited[asked.mask], asked.edited[asked.mask]), "the asked-for edit moved"
    assert made >= 3, f"only {made} of 10 photos got a {kind} side effect"


def test_unknown_side_effect_kinds_are_rejected():
    with pytest.raises(ValueError, match="unknown side-effect kinds"):
        SynthKindParams(n_pairs=1, side_effect_kinds={"explode": 1.0})


def test_attribute_mix_draws_only_its_changes_and_blur_sigma_sets_the_blur(photos):
    """A mix of one change gives only that change; a weaker blur moves the object's pixels less."""
    target = photos[0].instances[0]
    for change in ("fade", "blur"):
        made = [edits.recolour(photos[0], target, np.random.default_rng(i), {change: 1.0}) for i in range(4)]
        assert {e.extra["attribute"] for e in made} == {change}
    strength = {}
    for sigma in ((0.6, 0.6), (5.0, 5.0)):
        edit = edits.recolour(photos[0], target, np.random.default_rng(0), {"blur": 1.0}, sigma)
        strength[sigma] = np.abs(edit.edited.astype(int) - photos[0].image)[target.mask].mean()
    assert 0 < strength[(0.6, 0.6)] < strength[(5.0, 5.0)]


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"attribute_mix": {"melt": 1.0}}, "unknown attribute changes"),
        ({"attribute_mix": {"blur": 0.0}}, "at least one positive"),
        ({"blur_sigma": (3.0, 1.0)}, "blur_sigma"),
    ],
)
def test_bad_attribute_params_are_rejected(update, message):
    with pytest.raises(ValueError, match=message):
        SynthKindParams(n_pairs=1, **update)


def test_perturbation_drifts_the_pixels_outside_the_mask_but_keeps_the_mask(tmp_path, photos):
    """Each drift component is drawn per pair, so a pair without the tone shift and the noise keeps the
    flat areas of the built-in scenes unchanged: most pixels drift on every pair, nearly all on average."""
    synthesise("edit", photos, data_params(strength=(0.8, 1.0)), tmp_path / "p")
    synthesise("edit", photos, data_params(strength=(0.0, 0.0)), tmp_path / "clean")
    perturbed, clean = EditPairDataset(str(tmp_path / "p")), EditPairDataset(str(tmp_path / "clean"))
    assert len(perturbed) == len(clean) == 24
    shares = {}
    for p_item, c_item in zip(perturbed, clean, strict=True):
        assert (p_item["mask"] == c_item["mask"]).all()
        assert (p_item["side_effect"] == c_item["side_effect"]).all()
        outside = p_item["mask"][0] == 0
        if outside.any():
            changed = (p_item["original"] - p_item["edited"]).abs().amax(0)[outside] > 0
            shares[p_item["id"]] = changed.float().mean().item()
    assert min(shares.values()) > 0.5, shares
    assert sum(shares.values()) / len(shares) > 0.9, shares


def test_calib_pairs_have_all_zero_masks_and_differ(tmp_path, photos):
    synthesise("calib", photos, data_params(), tmp_path)
    for item in EditPairDataset(str(tmp_path)):
        assert item["mask"].sum() == 0 and item["edit_type"] == "none" and item["instruction"] == ""
        assert (item["original"] != item["edited"]).any()


def test_generated_instructions_parse_to_their_tuples(tmp_path, photos):
    synthesise("edit", photos, data_params(n=40), tmp_path)
    parser = RuleParser()
    for line in (tmp_path / "manifest.jsonl").read_text().splitlines():
        row = json.loads(line)
        parsed = parser.parse(row["instruction"])
        assert parsed.as_tuple() == tuple(row["parsed"][k] for k in ("original", "edited", "action")), row
        assert len(parsed.edits) == 1 and parsed.confidence >= ParserParams().min_confidence, row


def test_splits_are_by_photo():
    assert split_of("coco:1.jpg", 0.1, 0.2) == split_of("coco:1.jpg", 0.1, 0.2)
    splits = [split_of(f"p{i}", 0.1, 0.2) for i in range(2000)]
    assert abs(splits.count("test") / 2000 - 0.2) < 0.04 and abs(splits.count("val") / 2000 - 0.1) < 0.03


def test_atomic_output_replaces_and_leaves_no_partial(tmp_path, photos):
    out = tmp_path / "edit"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    synthesise("edit", photos, data_params(n=4), out)
    assert not (out / "stale.txt").exists() and not (tmp_path / "edit.partial").exists()


def test_coco_source_gives_real_photo_edits(tmp_path, coco_tiny):
    source = SourceParams(
        kind="coco",
        path=str(coco_tiny / "train2017"),
        annotations=str(coco_tiny / "annotations" / "instances_train2017.json"),
        max_images=10,
    )
    photos = load_photos([source], 160)
    assert len(photos) == 10 and sum(len(p.instances) for p in photos) > 10
    synthesise("edit", photos, data_params(), tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert all(r["source"].startswith("coco_tiny:") for r in rows)
    for r in rows[:5]:
        edited = decode_image((tmp_path / r["edited"]).read_bytes())
        assert decode_mask((tmp_path / r["mask"]).read_bytes()).shape == edited.shape[:2]


def test_no_sources_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no readable photos"):
        load_photos([SourceParams(kind="folder", path=str(tmp_path))], 64)


def test_folder_source_only_allows_global_edits(tmp_path, photos):
    from sigma.data.images import encode_png

    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.png").write_bytes(encode_png(photos[0].image))
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"nope")
    folder = load_photos([SourceParams(kind="folder", path=str(tmp_path / "photos"))], 64)
    assert len(folder) == 1
    with pytest.raises(ValueError, match="no instance masks"):
        synthesise(
            "edit",
            folder,
            data_params().model_copy(
                update={"edit": data_params().edit.model_copy(update={"edit_mix": {"remove": 1.0}})}
            ),
            tmp_path / "o",
        )
    summary = synthesise("edit", folder, data_params(n=3), tmp_path / "g")
    assert summary["edit_types"] == {"global": 3}
    assert np.isclose(summary["mean_mask_area"], 1.0)


def test_pasted_objects_come_from_the_same_split(tmp_path, photos):
    synthesise("edit", photos, data_params(n=40), tmp_path)
    split_of_photo = {p.id: split_of(p.id, 0.1, 0.2) for p in photos}
    by_category = {}
    for p in photos:
        for inst in p.instances:
            by_category.setdefault(inst.category, set()).add(split_of_photo[p.id])
    rows = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    pasted = [(r, r.get("replacement") or r.get("added")) for r in rows if r["edit_type"] in ("replace", "add")]
    assert pasted
    for row, category in pasted:
        assert row["split"] in by_category[category], row


def test_batches_collate(tmp_path, photos):
    from torch.utils.data import DataLoader

    from sigma.data.dataset import collate_pairs

    synthesise("edit", photos, data_params(n=6), tmp_path)
    batch = next(iter(DataLoader(EditPairDataset(str(tmp_path)), batch_size=3, collate_fn=collate_pairs)))
    assert batch["original"].shape[0] == 3 and batch["mask"].shape[1] == 1
    assert len(batch["instruction"]) == 3 and len(batch["meta"]) == 3
