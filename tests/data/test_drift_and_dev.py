"""Regenerating-editor drift (deterministic, smooth, zero is identity) and the real-photo dev
benchmark (drift levels in turn, unchanged pairs, empty without its source)."""

import numpy as np
import pytest

from sigma.config import DataParams, DevParams, PerturbParams, SourceParams, SynthKindParams
from sigma.data.dataset import EditPairDataset
from sigma.data.pairs import read_manifest
from sigma.data.perturb import draw_strength, perturb, smooth_field
from sigma.data.stages import synth_stage


@pytest.fixture(scope="module")
def photo():
    rng = np.random.default_rng(0)
    base = np.linspace(0, 255, 64 * 80, dtype=np.float32).reshape(64, 80)
    return np.clip(base[..., None] + rng.normal(0, 20, (64, 80, 3)), 0, 255).astype(np.uint8)


def test_drift_is_deterministic_for_a_seed(photo):
    params = PerturbParams()
    a = perturb(photo, 0.7, np.random.default_rng(5), params)
    b = perturb(photo, 0.7, np.random.default_rng(5), params)
    c = perturb(photo, 0.7, np.random.default_rng(6), params)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_zero_strength_leaves_the_image_untouched_and_drift_grows_with_strength(photo):
    params = PerturbParams()
    assert perturb(photo, 0.0, np.random.default_rng(1), params) is photo
    errors = {
        s: np.mean(
            [
                np.abs(perturb(photo, s, np.random.default_rng(k), params).astype(float) - photo).mean()
                for k in range(12)
            ]
        )
        for s in (0.1, 0.9)
    }
    assert 0 < errors[0.1] < errors[0.9]


def test_none_prob_leaves_that_share_of_pairs_without_drift():
    params = PerturbParams(strength=(0.2, 1.0), none_prob=0.3)
    rng = np.random.default_rng(0)
    strengths = np.array([draw_strength(rng, params) for _ in range(4000)])
    assert abs((strengths == 0).mean() - 0.3) < 0.03
    assert strengths[strengths > 0].min() >= 0.2


def test_tone_fields_are_smooth_not_object_shaped():
    field = smooth_field((120, 160), 3, np.random.default_rng(0))
    assert field.shape == (120, 160, 3) and np.abs(field).max() <= 1
    # neighbouring pixels differ by a tiny fraction of the field's range: no edges
    assert np.abs(np.diff(field, axis=1)).max() < 0.05 * (field.max() - field.min())


def dev_data(coco_tiny, n_pairs: int = 9) -> DataParams:
    plain = SynthKindParams(n_pairs=1)
    source = SourceParams(
        kind="coco",
        path=str(coco_tiny / "train2017"),
        annotations=str(coco_tiny / "annotations" / "instances_train2017.json"),
        max_images=8,
    )
    dev = DevParams(
        n_pairs=n_pairs,
        seed=3,
        source=source,
        max_side=160,
        edit_mix={"remove": 1.0, "recolour": 1.0, "add": 1.0, "none": 1.0},
    )
    return DataParams(inpaint=plain, edit=plain, calib=plain, dev=dev)


def test_dev_benchmark_cycles_drift_levels_on_real_photos(coco_tiny, tmp_path):
    summary = synth_stage("dev", dev_data(coco_tiny), tmp_path / "dev", track=False)
    assert summary["n_pairs"] == 9 and summary["splits"] == {"test": 9}
    pairs = read_manifest(str(tmp_path / "dev"))
    assert [p.model_extra["drift"] for p in pairs] == ["none", "light", "heavy"] * 3
    assert all(p.source.startswith("coco_tiny:") for p in pairs)
    for pair, item in zip(pairs, EditPairDataset(str(tmp_path / "dev")), strict=True):
        if pair.model_extra["drift"] == "none":  # no drift: only the edit changed pixels
            diff = (item["original"] - item["edited"]).abs().amax(0)
            assert (diff[item["mask"][0] == 0] == 0).all(), pair.id
        if pair.edit_type == "none":
            assert item["mask"].sum() == 0


@pytest.mark.parametrize(
    "kind, source, why",
    [("coco", "absent", "not found"), ("folder", "empty", "no photo")],  # a clone's data/large_photos: .gitkeep
)
def test_dev_benchmark_without_its_source_is_empty_and_says_why(tmp_path, kind, source, why):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".gitkeep").touch()
    plain = SynthKindParams(n_pairs=1)
    dev = DevParams(n_pairs=5, source=SourceParams(kind=kind, path=str(tmp_path / source)))
    summary = synth_stage(
        "dev", DataParams(inpaint=plain, edit=plain, calib=plain, dev=dev), tmp_path / "dev", track=False
    )
    assert summary["n_pairs"] == 0 and why in summary["skipped"]
    assert read_manifest(str(tmp_path / "dev")) == []


def test_the_large_photo_benchmark_edits_small_segments_of_a_folder_of_photos(tmp_path):
    from PIL import Image

    from sigma.data.builtin import iter_builtin

    folder = tmp_path / "large"
    folder.mkdir()
    for k, photo in enumerate(iter_builtin(n_scenes=3, size=(1100, 800))):  # photos above 1024 px
        Image.fromarray(photo.image).save(folder / f"p{k}.png")
    plain = SynthKindParams(n_pairs=1)
    dev_large = DevParams(
        n_pairs=4,
        seed=5,
        source=SourceParams(kind="folder", path=str(folder)),
        max_side=1100,
        min_area=0.0005,
        natural_segments=1.0,
        edit_mix={"remove": 1.0, "copy_move": 1.0},
    )
    data = DataParams(inpaint=plain, edit=plain, calib=plain, dev_large=dev_large)
    summary = synth_stage("dev_large", data, tmp_path / "out", track=False)
    assert summary["n_pairs"] == 4
    pairs = read_manifest(str(tmp_path / "out"))
    assert all(p.kind == "dev_large" and p.model_extra["drift"] for p in pairs)
    areas = [p.model_extra["mask_area"] for p in pairs]
    assert min(areas) < 0.01, areas  # below data.min_instance_area: the small edits a large photo holds
    with Image.open(tmp_path / "out" / pairs[0].edited) as edited:
        assert max(edited.size) == 1100
    missing = data.model_copy(update={"dev_large": dev_large.model_copy(update={"source": None})})
    assert synth_stage("dev_large", missing, tmp_path / "none", track=False)["n_pairs"] == 0
