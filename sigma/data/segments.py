"""Natural segments: regions of a photo found by an unsupervised segmenter, used as edit targets
and pasted objects besides the annotated instances.

Drawn shapes teach the model what an edit of a flat, saturated object looks like; the edits it
meets are of real objects, textured and shaded, with boundaries that follow the photo's own
edges. Felzenszwalb's graph segmentation gives such regions in any photo without labels; each is
cleaned into one solid piece (opened, holes filled, largest component) and kept only when its
area is in range and it is compact enough to read as one object rather than a background strip.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage
from skimage.segmentation import felzenszwalb

from sigma.data.photos import Instance, Photo

SEGMENT_CATEGORY = "region"  # unknown to the grounder on purpose: these edits come with no prior
FELZENSZWALB_SCALE = 300  # larger: fewer, bigger segments
MIN_SOLIDITY = 0.6  # area / convex-hull area


def solid_piece(mask: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool -> its largest 8-connected component after a 5x5 opening, holes filled."""
    opened = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    n, labels = cv2.connectedComponents(opened, connectivity=8)
    if n <= 1:
        return np.zeros_like(mask, dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return np.asarray(ndimage.binary_fill_holes(labels == sizes.argmax()), dtype=bool)


def solidity(mask: np.ndarray) -> float:
    points = cv2.findNonZero(mask.astype(np.uint8))
    if points is None:
        return 0.0
    return float(mask.sum()) / max(1.0, cv2.contourArea(cv2.convexHull(points)))


def natural_segments(image: np.ndarray, min_area: float, max_area: float) -> list[np.ndarray]:
    """``(H, W, 3)`` uint8 RGB -> bool masks ``(H, W)`` of its solid segments whose area share is in
    ``[min_area, max_area]``; deterministic, in label order."""
    h, w = image.shape[:2]
    labels = felzenszwalb(image, scale=FELZENSZWALB_SCALE, sigma=0.8, min_size=max(16, int(min_area * h * w)))
    masks = []
    for label in range(int(labels.max()) + 1):
        piece = solid_piece(labels == label)
        if min_area <= piece.mean() <= max_area and solidity(piece) >= MIN_SOLIDITY:
            masks.append(piece)
    return masks


def segment_instances(photo: Photo, min_area: float, max_area: float) -> list[Instance]:
    """The photo's natural segments as instances named :data:`SEGMENT_CATEGORY`."""
    return [Instance(SEGMENT_CATEGORY, m) for m in natural_segments(photo.image, min_area, max_area)]
