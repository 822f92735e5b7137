"""Natural segments: unsupervised regions of a photo as edit targets beside annotated instances."""

import json

import cv2
import numpy as np
import pytest

from sigma.config import SourceParams
from sigma.data.builtin import iter_builtin
from sigma.data.images import encode_png
from sigma.data.photos import fit_max_side, load_photos
from sigma.data.segments import SEGMENT_CATEGORY, natural_segments
from sigma.data.synth import synthesise
from tests.data.test_synth import data_params


def disc_on_gradient() -> tuple[np.ndarray, np.ndarray]:
    """A 96x128 photo-like image: a shaded disc on a smooth gradient, and the disc's mask."""
    ys, xs = np.mgrid[:96, :128]
    image = np.stack([xs * 1.2, ys * 1.5 + 40, np.full_like(xs, 90)], -1).astype(np.float32)
    disc = (ys - 50) ** 2 + (xs - 70) ** 2 < 22**2
    image[disc] = (200, 40, 40) + (xs[disc, None] - 70) * 0.5
    return np.clip(image, 0, 255).astype(np.uint8), disc


def test_a_distinct_object_is_found_as_one_solid_segment():
    image, disc = disc_on_gradient()
    segments = natural_segments(image, 0.01, 0.3)
    best = max(segments, key=lambda m: (m & disc).sum() / (m | disc).sum())
    assert (best & disc).sum() / (best | disc).sum() > 0.8
    for mask in segments:
        assert 0.01 <= mask.mean() <= 0.3
        assert cv2.connectedComponents(mask.astype(np.uint8))[0] == 2  # background + one piece
    again = natural_segments(image, 0.01, 0.3)
    assert all(np.array_equal(a, b) for a, b in zip(segments, again, strict=True))


def test_area_bounds_drop_segments_outside_them():
    image, _ = disc_on_gradient()
    assert natural_segments(image, 0.3, 0.6) == []  # the disc is ~0.13, the background (filled) all


@pytest.fixture(scope="module")
def photos():
    return [fit_max_side(p, 128) for p in iter_builtin(n_scenes=8)]


def rows(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]


def with_segments(share: float, n: int = 16):
    params = data_params(n=n, side_effect=0.0)
    mix = {"remove": 1.0, "recolour": 1.0, "replace": 1.0, "add": 1.0}
    return params.model_copy(
        update={"edit": params.edit.model_copy(update={"natural_segments": share, "edit_mix": mix})}
    )


def test_segment_edits_appear_at_their_share_with_exact_masks(tmp_path, photos):
    synthesise("edit", photos, with_segments(1.0), tmp_path / "all")
    synthesise("edit", photos, with_segments(0.0), tmp_path / "none")
    on_segments = rows(tmp_path / "all")
    assert all(SEGMENT_CATEGORY in (r.get("target") or r.get("added") or "") for r in on_segments)
    assert not any(SEGMENT_CATEGORY in r["instruction"] for r in rows(tmp_path / "none"))
    for r in on_segments:
        assert 0 < r["mask_area"] < 1, r


def test_photos_without_annotations_get_object_edits_from_their_segments(tmp_path, photos):
    (tmp_path / "photos").mkdir()
    for p in photos[:4]:
        (tmp_path / "photos" / f"{p.id}.png").write_bytes(encode_png(p.image))
    folder = load_photos([SourceParams(kind="folder", path=str(tmp_path / "photos"))], 128)
    summary = synthesise("edit", folder, with_segments(0.5, n=6), tmp_path / "out")
    assert summary["n_pairs"] == 6
    assert set(summary["edit_types"]) <= {"remove", "attribute_change", "replace", "add"}
