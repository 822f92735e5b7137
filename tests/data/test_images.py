"""The loader on odd images: every mode becomes 8-bit RGB, EXIF is applied, bad bytes are errors."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from sigma.data.dataset import EditPairDataset, PairError
from sigma.data.images import ImageDecodeError, decode_image, decode_mask, encode_png, image_size


def save(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_exif_orientation_is_applied():
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :10] = 255  # white band on the left
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = save(img, "JPEG", exif=exif.tobytes(), quality=95)
    out = decode_image(data)
    assert out.shape == (40, 20, 3)
    assert out[:10].mean() > 200 and out[-10:].mean() < 50  # band now on top
    assert image_size(data) == (20, 40)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: Image.new("RGBA", (8, 6), (255, 0, 0, 0)), (255, 255, 255)),  # transparent -> white
        (lambda: Image.new("RGBA", (8, 6), (255, 0, 0, 255)), (255, 0, 0)),
        (lambda: Image.new("L", (8, 6), 100), (100, 100, 100)),
        (lambda: Image.new("LA", (8, 6), (100, 255)), (100, 100, 100)),
        (lambda: Image.new("CMYK", (8, 6), (0, 255, 255, 0)), (255, 0, 0)),
        (lambda: Image.new("1", (8, 6), 1), (255, 255, 255)),
        (lambda: Image.new("P", (8, 6), 0), (0, 0, 0)),
    ],
)
def test_modes_become_rgb(make, expected):
    out = decode_image(save(make(), "TIFF" if make().mode == "CMYK" else "PNG"))
    assert out.dtype == np.uint8 and out.shape == (6, 8, 3)
    assert tuple(out[0, 0]) == pytest.approx(expected, abs=2)


def test_sixteen_bit_is_scaled_not_clipped():
    arr = np.full((4, 5), 65535 // 2, np.uint16)
    arr[0, 0] = 65535
    out = decode_image(save(Image.fromarray(arr)))  # uint16 -> mode I;16
    assert out[0, 0, 0] == 255
    assert out[1, 1, 0] == 127  # clipping would give 255 everywhere


def test_corrupt_truncated_and_unknown_bytes_are_errors():
    good = save(Image.new("RGB", (64, 64), (10, 20, 30)), "JPEG")
    with pytest.raises(ImageDecodeError, match="not a recognised image"):
        decode_image(b"definitely not an image")
    with pytest.raises(ImageDecodeError, match="corrupt or truncated"):
        decode_image(good[: len(good) // 2])


def test_decompression_bomb_is_refused():
    data = save(Image.new("L", (400, 400), 0))
    with pytest.raises(ImageDecodeError, match="pixel limit"):
        decode_image(data, max_pixels=10_000)
    with pytest.raises(ImageDecodeError, match="pixel limit"):  # between 1x and 2x: Pillow only warns
        decode_image(data, max_pixels=120_000)
    assert decode_image(data, max_pixels=160_000).shape == (400, 400, 3)


def test_mask_round_trip():
    mask = np.zeros((5, 7), bool)
    mask[1:3, 2:6] = True
    assert (decode_mask(encode_png(mask)) == mask).all()


def write_pair_dataset(root, pairs):
    (root / "manifest.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))


def test_dataset_items_and_errors(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (6, 8, 3), dtype=np.uint8)
    (tmp_path / "o.png").write_bytes(encode_png(rgb))
    (tmp_path / "e.png").write_bytes(encode_png(rgb[::-1].copy()))
    (tmp_path / "small.png").write_bytes(encode_png(rgb[:3]))
    (tmp_path / "m.png").write_bytes(encode_png(np.eye(6, 8, dtype=bool)))
    write_pair_dataset(
        tmp_path,
        [
            {
                "id": "ok",
                "original": "o.png",
                "edited": "e.png",
                "mask": "m.png",
                "instruction": "x",
                "split": "train",
                "extra": 5,
            },
            {"id": "nomask", "original": str(tmp_path / "o.png"), "edited": "e.png", "split": "test"},
            {"id": "missing", "original": "o.png", "edited": "gone.png"},
            {"id": "mismatch", "original": "o.png", "edited": "small.png"},
            {"id": "badmask", "original": "o.png", "edited": "e.png", "mask": "small.png"},
        ],
    )
    ds = EditPairDataset(str(tmp_path))
    item = ds[0]
    assert item["original"].shape == (3, 6, 8) and item["original"].max() <= 1
    assert item["mask"].shape == (1, 6, 8) and item["mask"].sum() == 6 and item["has_mask"]
    assert item["meta"] == {"extra": 5}
    assert not ds[1]["has_mask"] and ds[1]["mask"].sum() == 0
    with pytest.raises(PairError, match="'missing'.*file not found"):
        ds[2]
    with pytest.raises(PairError, match="'mismatch'.*size mismatch: original 8x6, edited 8x3"):
        ds[3]
    with pytest.raises(PairError, match="'badmask'.*size mismatch: mask"):
        ds[4]
    assert [p.id for p in EditPairDataset(str(tmp_path / "manifest.jsonl"), split="test").pairs] == ["nomask"]


def test_manifest_errors_name_the_line(tmp_path):
    from sigma.data.pairs import ManifestError, read_manifest

    (tmp_path / "manifest.jsonl").write_text('{"id": "a", "original": "o", "edited": "e"}\n{"id": "b"\n')
    with pytest.raises(ManifestError, match=":2: not valid JSON"):
        read_manifest(str(tmp_path))
    (tmp_path / "manifest.jsonl").write_text('{"id": "a", "original": "o", "edited": "e", "edit_type": "explode"}\n')
    with pytest.raises(ManifestError, match=":1: invalid edit pair: edit_type"):
        read_manifest(str(tmp_path))
