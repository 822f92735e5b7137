"""Photos with instance masks: the raw material of the synthesiser.

Each source yields :class:`Photo` objects (RGB array + named instance masks), resized so that the
longer side is at most ``max_side``. Sources: COCO-format instance datasets, plain photo folders
(no instances: used for global and calibration edits) and the built-in scenes of
:mod:`sigma.data.builtin`.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from sigma.config import SourceParams
from sigma.data import storage
from sigma.data.images import ImageDecodeError, decode_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass
class Instance:
    category: str
    mask: np.ndarray  # (H, W) bool

    @property
    def area(self) -> float:
        """Fraction of the image covered."""
        return float(self.mask.mean())


@dataclass
class Photo:
    id: str
    image: np.ndarray  # (H, W, 3) uint8 RGB
    instances: list[Instance] = field(default_factory=list)
    source: str = ""


def fit_max_side(photo: Photo, max_side: int) -> Photo:
    """Downscale so the longer side is ``max_side`` (area resampling; masks nearest)."""
    h, w = photo.image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return photo
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    image = cv2.resize(photo.image, size, interpolation=cv2.INTER_AREA)
    instances = [
        Instance(i.category, cv2.resize(i.mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0)
        for i in photo.instances
    ]
    return Photo(photo.id, image, instances, photo.source)


def iter_coco(images_dir: str, annotations: str, name: str = "coco") -> Iterator[Photo]:
    """Photos and non-crowd instance masks of a COCO-format dataset, in image-id order."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress chatter
        coco = COCO(annotations)
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    for image_id in sorted(coco.getImgIds()):
        info = coco.loadImgs(image_id)[0]
        try:
            image = decode_image(storage.read_bytes(storage.join(images_dir, info["file_name"])))
        except (storage.StorageError, ImageDecodeError):
            continue
        instances = [
            Instance(names[a["category_id"]], coco.annToMask(a).astype(bool))
            for a in coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=False))
        ]
        instances = [i for i in instances if i.mask.shape == image.shape[:2]]
        yield Photo(f"{name}:{info['file_name']}", image, instances, name)


def iter_folder(path: str, name: str = "folder") -> Iterator[Photo]:
    """Every decodable photo in a folder tree, sorted by path; no instances."""
    for file in sorted(p for p in Path(path).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        try:
            image = decode_image(file.read_bytes(), what=str(file))
        except ImageDecodeError:
            continue
        yield Photo(f"{name}:{file.relative_to(path)}", image, [], name)


def iter_source(source: SourceParams) -> Iterator[Photo]:
    if source.kind == "coco":
        assert source.path is not None  # SourceParams requires a path for this kind
        annotations = source.annotations or str(Path(source.path).parent / "annotations.json")
        photos = iter_coco(source.path, annotations, Path(source.path).parent.name or "coco")
    elif source.kind == "folder":
        assert source.path is not None  # SourceParams requires a path for this kind
        photos = iter_folder(source.path, Path(source.path).name)
    else:
        from sigma.data.builtin import iter_builtin

        photos = iter_builtin()
    for n, photo in enumerate(photos):
        if source.max_images is not None and n >= source.max_images:
            return
        yield photo


def load_photos(sources: list[SourceParams], max_side: int) -> list[Photo]:
    """All photos of all sources, resized; raises when the sources hold no photo at all."""
    photos = [fit_max_side(p, max_side) for s in sources for p in iter_source(s)]
    if not photos:
        where = ", ".join(f"{s.kind}:{s.path or '(built-in)'}" for s in sources)
        raise FileNotFoundError(
            f"no readable photos in the configured sources ({where}); "
            "check data.sources in params.yaml or run `sigma data bootstrap`"
        )
    return photos
