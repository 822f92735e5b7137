"""Built-in photos with instance masks, so a fresh clone has data with no download.

Backgrounds are the real photos that ship inside scikit-image and scikit-learn; on each, a few
procedurally drawn, shaded and textured objects (named shapes) give exact instance masks. The
output is a deterministic function of ``seed``: ``sigma data bootstrap`` writes it as a COCO
dataset whose hash ``data.dvc`` records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sigma.data.images import decode_image, encode_png
from sigma.data.photos import Instance, Photo
from sigma.data.storage import write_bytes_atomic

BACKGROUNDS = (
    ("skimage.data", "astronaut.png"),
    ("skimage.data", "chelsea.png"),
    ("skimage.data", "coffee.png"),
    ("skimage.data", "rocket.jpg"),
    ("skimage.data", "motorcycle_left.png"),
    ("skimage.data", "retina.jpg"),
    ("sklearn.datasets.images", "china.jpg"),
    ("sklearn.datasets.images", "flower.jpg"),
)
TEXTURES = (("skimage.data", "brick.png"), ("skimage.data", "grass.png"), ("skimage.data", "gravel.png"))
SHAPES = ("circle", "square", "triangle", "star", "ring", "hexagon")
PALETTE = {
    "red": (200, 30, 30),
    "orange": (235, 130, 20),
    "yellow": (230, 210, 40),
    "green": (40, 160, 60),
    "blue": (30, 70, 200),
    "purple": (120, 40, 160),
    "white": (235, 235, 235),
    "black": (25, 25, 25),
}
SCENE_SIZE = (320, 240)


def _package_image(package: str, name: str) -> np.ndarray:
    return decode_image(files(package).joinpath(name).read_bytes(), what=f"{package}/{name}")


def _crop_resized(image: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    scale = rng.uniform(0.6, 1.0)
    ch, cw = int(h * scale), int(min(w, h * scale * size[0] / size[1]))
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    crop = cv2.resize(image[y : y + ch, x : x + cw], size, interpolation=cv2.INTER_AREA)
    return crop[:, ::-1].copy() if rng.random() < 0.5 else crop


def _shape_mask(shape: str, hw: tuple[int, int], centre: tuple[int, int], r: int, angle: float) -> np.ndarray:
    mask = np.zeros(hw, np.uint8)
    cx, cy = centre
    if shape in ("circle", "ring"):
        cv2.circle(mask, centre, r, 1, -1)
        if shape == "ring":
            cv2.circle(mask, centre, max(2, r // 2), 0, -1)
        return mask.astype(bool)
    corners = {"square": 4, "triangle": 3, "hexagon": 6, "star": 10}[shape]
    theta = angle + np.arange(corners) * 2 * np.pi / corners
    radius = np.where(np.arange(corners) % 2 == 1, r * 0.45, r) if shape == "star" else np.full(corners, r)
    pts = np.stack([cx + radius * np.cos(theta), cy + radius * np.sin(theta)], 1).round().astype(np.int32)
    cv2.fillPoly(mask, [pts], 1)
    return mask.astype(bool)


def _paint(
    canvas: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int], texture: np.ndarray, rng: np.random.Generator
) -> None:
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(direction) * xx / w + np.sin(direction) * yy / h
    shading = 0.75 + 0.35 * (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
    tex = _crop_resized(texture, (w, h), rng).mean(-1) / 255.0
    strength = rng.uniform(0.1, 0.4)
    fill = np.asarray(colour, np.float32) * (shading * (1 - strength + strength * 2 * tex))[..., None]
    canvas[mask] = fill[mask].clip(0, 255).astype(np.uint8)


def iter_builtin(n_scenes: int = 64, seed: int = 20260, size: tuple[int, int] = SCENE_SIZE) -> Iterator[Photo]:
    """Yield ``n_scenes`` scenes: package photo background + 2-4 named, occluding shapes."""
    backgrounds = [_package_image(*b) for b in BACKGROUNDS]
    textures = [_package_image(*t) for t in TEXTURES]
    w, h = size
    for k in range(n_scenes):
        rng = np.random.default_rng([seed, k])
        image = _crop_resized(backgrounds[k % len(backgrounds)], size, rng)
        instances: list[Instance] = []
        for _ in range(rng.integers(2, 5)):
            shape = SHAPES[rng.integers(len(SHAPES))]
            r = int(rng.integers(int(0.08 * h), int(0.22 * h)))
            centre = (int(rng.integers(r, w - r)), int(rng.integers(r, h - r)))
            mask = _shape_mask(shape, (h, w), centre, r, rng.uniform(0, np.pi))
            colour = list(PALETTE.values())[rng.integers(len(PALETTE))]
            _paint(image, mask, colour, textures[rng.integers(len(textures))], rng)
            for other in instances:  # later shapes occlude earlier ones
                other.mask &= ~mask
            instances.append(Instance(shape, mask))
        drawn = [i for i in instances if i.mask.sum() >= 0.004 * h * w]
        yield Photo(f"builtin:scene_{k:04d}.png", image, drawn, "builtin")


def write_coco(photos: Iterator[Photo], out_dir: str | Path) -> Path:
    """Write photos as a COCO instance dataset: ``images/*.png`` + ``annotations.json`` (RLE)."""
    from pycocotools import mask as mask_utils

    out = Path(out_dir)
    categories: dict[str, int] = {}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, photo in enumerate(photos, start=1):
        file_name = photo.id.split(":", 1)[-1]
        write_bytes_atomic(str(out / "images" / file_name), encode_png(photo.image))
        h, w = photo.image.shape[:2]
        images.append({"id": image_id, "file_name": file_name, "height": h, "width": w})
        for inst in photo.instances:
            rle = mask_utils.encode(np.asfortranarray(inst.mask.astype(np.uint8)))
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": categories.setdefault(inst.category, len(categories) + 1),
                    "segmentation": {"size": [h, w], "counts": rle["counts"].decode("ascii")},
                    "area": int(inst.mask.sum()),
                    "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                    "iscrowd": 0,
                }
            )
    coco = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": n} for n, i in categories.items()],
    }
    path = out / "annotations.json"
    write_bytes_atomic(str(path), json.dumps(coco, sort_keys=True, indent=1).encode())
    return path
