"""The tiled second pass over large pairs: tile geometry, stitching, and a small edit in a 1600-px pair."""

import numpy as np
import pytest
import torch

from sigma.config import TileParams
from sigma.model.tiles import combine, needs_tiles, stitch, tile_boxes
from tests.model.conftest import tiny_sigma


@pytest.mark.parametrize("shape", [(1067, 1600), (1600, 1600), (700, 641), (300, 400)])
def test_tiles_of_one_size_cover_the_pair_and_overlap(shape):
    boxes = tile_boxes(shape, 640, 64)
    covered = np.zeros(shape, int)
    for y0, y1, x0, x1 in boxes:
        assert (y1 - y0, x1 - x0) == (min(640, shape[0]), min(640, shape[1]))
        assert y0 >= 0 and y1 <= shape[0] and x0 >= 0 and x1 <= shape[1]
        covered[y0:y1, x0:x1] += 1
    assert covered.min() >= 1
    if max(shape) > 640:  # neighbours share at least the overlap
        xs = sorted({b[2] for b in boxes})
        assert all(b - a <= 640 - 64 for a, b in zip(xs, xs[1:], strict=False))


def test_stitching_averages_overlaps_and_combining_keeps_the_surer_or_the_tiles():
    boxes = [(0, 4, 0, 4), (0, 4, 2, 6)]
    out = stitch([torch.full((2, 4, 4), 1.0), torch.full((2, 4, 4), 3.0)], boxes, (4, 6))
    assert out[0, 0].tolist() == [1, 1, 2, 2, 3, 3]
    whole, tiled = torch.zeros(2, 4, 6), out
    whole[1] = 7
    assert torch.equal(combine(whole, tiled, "max")[0], torch.maximum(whole[0], tiled[0]))
    assert torch.equal(combine(whole, -tiled, "tiles")[0], -tiled[0])
    assert (combine(whole, tiled, "max")[1] == 7).all()  # attribution stays the whole pair's


def test_only_pairs_above_min_side_are_tiled():
    assert needs_tiles((1000, 1600), TileParams(min_side=960))
    assert not needs_tiles((640, 480), TileParams(min_side=960))
    assert not needs_tiles((1000, 1600), TileParams(min_side=None))
    with pytest.raises(ValueError, match="overlap"):
        TileParams(size=64, overlap=64)


def test_a_small_edit_in_a_1600_px_pair_with_no_drift_is_found_at_that_size(monkeypatch):
    rng = np.random.default_rng(0)
    original = rng.integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
    edited = original.copy()
    edited[700:740, 1100:1140] = 255 - edited[700:740, 1100:1140]  # 0.08 % of the image
    truth = np.zeros((1200, 1600), bool)
    truth[700:740, 1100:1140] = True
    model = tiny_sigma(tiles=TileParams(min_side=960, size=640, overlap=64).model_dump())
    tiled = []
    original_tiled = type(model)._tiled_logits
    monkeypatch.setattr(
        type(model), "_tiled_logits", lambda self, *a, **k: tiled.append(1) or original_tiled(self, *a, **k)
    )
    (annotation,) = model.annotate([(original, edited, "make the box white")])
    assert annotation.mask.shape == (1200, 1600)
    assert np.array_equal(annotation.mask, truth)
    assert tiled == [1]  # the pair went through its tiles too


def test_a_tile_goes_through_the_same_model_as_a_pair_of_its_size():
    rng = np.random.default_rng(1)
    original = rng.integers(0, 256, (1000, 1300, 3), dtype=np.uint8)
    edited = np.clip(original.astype(int) + rng.integers(-3, 4, original.shape), 0, 255).astype(np.uint8)
    model = tiny_sigma(tiles=TileParams(min_side=960, size=640, overlap=64).model_dump())
    box = tile_boxes(original.shape[:2], 640, 64)[0]
    y0, y1, x0, x1 = box
    with torch.inference_mode():
        tiles = model._tiled_logits((original, edited, "x"), use_instruction=True)
        ((alone, _, _),) = model._predict_group(
            [(original[y0:y1, x0:x1], edited[y0:y1, x0:x1], "x")], True, whole_pass_only=True
        )
    only_first = np.ones(original.shape[:2], bool)  # pixels of the first tile no other tile covers
    for y0b, y1b, x0b, x1b in tile_boxes(original.shape[:2], 640, 64)[1:]:
        only_first[y0b:y1b, x0b:x1b] = False
    region = torch.from_numpy(only_first[y0:y1, x0:x1])
    torch.testing.assert_close(tiles[:, y0:y1, x0:x1][:, region], alone[:, region])
