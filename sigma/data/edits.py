"""Edit operations with exact masks.

Each operation takes a :class:`~sigma.data.photos.Photo` and returns an :class:`Edit` whose
``mask`` covers every pixel it changed: outside the mask, ``edited`` equals the original bit for
bit (perturbation is applied later, by the synthesiser).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from sigma.config import ATTRIBUTE_MIX, BLUR_SIGMA, SIDE_EFFECT_KINDS
from sigma.data import instructions
from sigma.data.inpainters import Inpainter
from sigma.data.photos import Instance, Photo

HUES = {"red": 0, "orange": 12, "yellow": 28, "green": 60, "cyan": 90, "blue": 112, "purple": 135, "pink": 165}


@dataclass
class Edit:
    edited: np.ndarray  # (H, W, 3) uint8
    mask: np.ndarray  # (H, W) bool
    instruction: str
    parsed: dict
    edit_type: str
    extra: dict = field(default_factory=dict)
    side_effect: np.ndarray | None = None  # (H, W) bool: the part of ``mask`` nobody asked for


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def remove(photo: Photo, target: Instance, rng: np.random.Generator, inpaint: Inpainter) -> Edit:
    region = _dilate(target.mask, int(rng.integers(2, 6)))
    edited = inpaint(photo.image, region, rng)
    text, parsed = instructions.remove(rng, target.category)
    return Edit(edited, region, text, parsed, "remove", {"target": target.category})


def _far_colour(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> str:
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    mean_hue = float(np.median(hsv[..., 0][mask]))
    far = [c for c, h in HUES.items() if min(abs(h - mean_hue), 180 - abs(h - mean_hue)) > 30]
    return far[rng.integers(len(far))]


def recolour_region(image: np.ndarray, mask: np.ndarray, hue: int, min_saturation: int = 140) -> np.ndarray:
    """Set the hue inside ``mask`` and lift its saturation, keeping shading (value) intact."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    region = hsv[mask]
    region[:, 0] = hue
    region[:, 1] = np.maximum(region[:, 1], min_saturation)
    region[:, 2] = np.clip(region[:, 2], 60, 255)  # near-black stays black under any hue otherwise
    hsv[mask] = region
    return np.where(mask[..., None], cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), image)


# Attribute edits (ATTRIBUTE_MIX): a new colour, or the tone, sharpness or saturation of the object
# alone. Each follows the object's boundary: the lesson that separates an edit from global drift.
TONE_CHANGES = tuple(c for c in ATTRIBUTE_MIX if c != "recolour")  # adjust_region's: brighten, darken, blur, fade


def adjust_region(
    image: np.ndarray,
    mask: np.ndarray,
    change: str,
    rng: np.random.Generator,
    blur_sigma: tuple[float, float] = BLUR_SIGMA,
) -> np.ndarray:
    """Brighten, darken, blur (sigma drawn in ``blur_sigma``, pixels) or desaturate the pixels inside
    ``mask``; ``(H, W, 3)`` uint8 out."""
    if change == "blur":
        adjusted = cv2.GaussianBlur(image, (0, 0), sigmaX=float(rng.uniform(*blur_sigma)))
    else:
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.float32)
        if change == "brighten":
            hsv[..., 2] = hsv[..., 2] * rng.uniform(1.3, 1.6) + 30
            hsv[..., 1] *= 0.85
        elif change == "darken":
            hsv[..., 2] *= rng.uniform(0.35, 0.6)
        else:  # fade
            hsv[..., 1] *= rng.uniform(0.0, 0.25)
        adjusted = cv2.cvtColor(hsv.clip(0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)
    return np.where(mask[..., None], adjusted, image)


def recolour(
    photo: Photo,
    target: Instance,
    rng: np.random.Generator,
    mix: dict[str, float] | None = None,
    blur_sigma: tuple[float, float] = BLUR_SIGMA,
) -> Edit:
    """An attribute change of ``target`` drawn from ``mix`` (weights over ATTRIBUTE_MIX's keys)."""
    mix = ATTRIBUTE_MIX if mix is None else mix
    names = list(mix)
    weights = np.array([mix[n] for n in names])
    change = names[rng.choice(len(names), p=weights / weights.sum())]
    if change == "recolour":
        colour = _far_colour(photo.image, target.mask, rng)
        edited = recolour_region(photo.image, target.mask, HUES[colour])
        text, parsed = instructions.recolour(rng, target.category, colour)
        extra = {"target": target.category, "colour": colour}
    else:
        edited = adjust_region(photo.image, target.mask, change, rng, blur_sigma)
        text, parsed = instructions.attribute(rng, target.category, change)
        extra = {"target": target.category, "attribute": change}
    changed = target.mask & (edited != photo.image).any(-1)
    return Edit(edited, changed, text, parsed, "attribute_change", extra)


def _cutout(donor: Photo, inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.nonzero(inst.mask)
    box = np.s_[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return donor.image[box], inst.mask[box]


def paste(
    base: np.ndarray, rgb: np.ndarray, obj_mask: np.ndarray, centre: tuple[int, int], height: int
) -> tuple[np.ndarray, np.ndarray]:
    """Paste a cut-out scaled to ``height`` px at ``centre`` with a feathered alpha.

    Returns the composite and the mask of every pixel whose alpha is non-zero.
    """
    h, w = base.shape[:2]
    scale = height / obj_mask.shape[0]
    ow, oh = max(2, round(obj_mask.shape[1] * scale)), max(2, round(obj_mask.shape[0] * scale))
    ow, oh = min(ow, w), min(oh, h)
    rgb = cv2.resize(rgb, (ow, oh), interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = cv2.resize(obj_mask.astype(np.float32), (ow, oh), interpolation=cv2.INTER_LINEAR)
    feather = max(1, round(min(ow, oh) * 0.04)) * 2 + 1
    alpha = cv2.GaussianBlur(alpha, (feather, feather), 0) * (alpha > 0)  # feather inwards only
    x0 = int(np.clip(centre[0] - ow // 2, 0, w - ow))
    y0 = int(np.clip(centre[1] - oh // 2, 0, h - oh))
    full_alpha = np.zeros((h, w), np.float32)
    full_alpha[y0 : y0 + oh, x0 : x0 + ow] = alpha
    full_rgb = np.zeros((h, w, 3), np.float32)
    full_rgb[y0 : y0 + oh, x0 : x0 + ow] = rgb
    blended = (full_alpha[..., None] * full_rgb + (1 - full_alpha[..., None]) * base).round().astype(np.uint8)
    touched = full_alpha > 0
    return np.where(touched[..., None], blended, base), touched


def replace(
    photo: Photo, target: Instance, donor: Photo, donor_inst: Instance, rng: np.random.Generator, inpaint: Inpainter
) -> Edit:
    region = _dilate(target.mask, int(rng.integers(2, 6)))
    cleared = inpaint(photo.image, region, rng)
    ys, xs = np.nonzero(target.mask)
    centre = (int(xs.mean()), int(ys.mean()))
    height = int((ys.max() - ys.min() + 1) * rng.uniform(0.9, 1.2))
    edited, pasted = paste(cleared, *_cutout(donor, donor_inst), centre, height)
    text, parsed = instructions.replace(rng, target.category, donor_inst.category)
    extra = {"target": target.category, "replacement": donor_inst.category}
    return Edit(edited, region | pasted, text, parsed, "replace", extra)


def add(photo: Photo, donor: Photo, donor_inst: Instance, rng: np.random.Generator) -> Edit:
    h, w = photo.image.shape[:2]
    height = int(h * rng.uniform(0.2, 0.45))
    centre = (int(rng.integers(w // 6, w - w // 6)), int(rng.integers(h // 4, h - h // 4)))
    edited, pasted = paste(photo.image, *_cutout(donor, donor_inst), centre, height)
    untouched = [i.category for i in photo.instances if not (i.mask & pasted).any()]
    context = untouched[rng.integers(len(untouched))] if untouched and rng.random() < 0.6 else None
    text, parsed = instructions.add(rng, donor_inst.category, context)
    return Edit(edited, pasted, text, parsed, "add", {"added": donor_inst.category})


MIN_SHIFT, MAX_SHIFT = 1.0, 1.8  # copy-move offset, in object extents along the direction: beside itself


def _shift(
    target: Instance, shape: tuple[int, int], rng: np.random.Generator
) -> tuple[tuple[int, int], tuple[int, int]]:
    """A direction ``(dx, dy)`` with room for the object beside itself (the roomiest when none
    has) and the object's new centre ``(x, y)`` that way."""
    h, w = shape
    ys, xs = np.nonzero(target.mask)
    width, height = int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1
    extent = {(-1, 0): width, (1, 0): width, (0, -1): height, (0, 1): height}
    room = {(-1, 0): xs.min(), (1, 0): w - 1 - xs.max(), (0, -1): ys.min(), (0, 1): h - 1 - ys.max()}
    fits = [d for d in instructions.DIRECTIONS if room[d] >= MIN_SHIFT * extent[d]]
    direction = fits[rng.integers(len(fits))] if fits else max(room, key=lambda d: room[d])
    step = int(extent[direction] * rng.uniform(MIN_SHIFT, MAX_SHIFT))
    centre = ((xs.min() + xs.max()) // 2, (ys.min() + ys.max()) // 2)  # as :func:`paste` places the box
    return direction, (int(centre[0]) + direction[0] * step, int(centre[1]) + direction[1] * step)


def copy_move(photo: Photo, target: Instance, rng: np.random.Generator, inpaint: Inpainter) -> Edit:
    """Content of the photo pasted elsewhere in the same photo: moved (its old place inpainted) or
    duplicated. The truth is every pixel that changed: where the copy landed and, for a move, the
    vacated place (``extra['copy']`` says which)."""
    moved = rng.random() < 0.5
    direction, centre = _shift(target, photo.image.shape[:2], rng)
    rgb, obj = _cutout(photo, target)
    base = photo.image
    region = np.zeros(base.shape[:2], bool)
    if moved:
        region = _dilate(target.mask, int(rng.integers(2, 6)))
        base = inpaint(base, region, rng)
    edited, pasted = paste(base, rgb, obj, centre, obj.shape[0])
    changed = (region | pasted) & (edited != photo.image).any(-1)
    if moved:
        text, parsed = instructions.move(rng, target.category, direction)
    else:
        text, parsed = instructions.duplicate(rng, target.category)
    extra = {"target": target.category, "copy": "move" if moved else "duplicate"}
    return Edit(edited, changed, text, parsed, "copy_move", extra)


def _grade(image: np.ndarray, style: str) -> np.ndarray:
    img = image.astype(np.float32) / 255
    grey = img.mean(-1, keepdims=True)
    if style == "winter":
        img = 0.55 * img + 0.45 * grey
        img = img * [0.9, 0.97, 1.1] + 0.18
    elif style == "autumn":
        img = img * [1.15, 0.95, 0.7] + [0.04, 0.01, 0]
    elif style == "night":
        img = (0.6 * img + 0.4 * grey) * [0.35, 0.4, 0.6]
    elif style == "vintage":
        sepia = np.concatenate([grey * 1.07, grey * 0.74, grey * 0.43], -1) + 0.08
        img = 0.3 * img + 0.7 * sepia
    elif style == "dramatic":
        img = (img - 0.5) * 1.6 + 0.45
    elif style == "sunset":
        h = img.shape[0]
        ramp = np.linspace(1.0, 0.6, h, dtype=np.float32)[:, None, None]
        img = img * [1.2, 0.9, 0.65] * (0.7 + 0.3 * ramp) + [0.06, 0.02, 0]
    return (img.clip(0, 1) * 255).round().astype(np.uint8)


def global_style(photo: Photo, rng: np.random.Generator) -> Edit:
    style = list(instructions.GLOBAL)[rng.integers(len(instructions.GLOBAL))]
    edited = _grade(photo.image, style)
    text, parsed = instructions.global_style(rng, style)
    return Edit(edited, np.ones(photo.image.shape[:2], bool), text, parsed, "global", {"style": style})


SIDE_EFFECT_TRIES = 8  # placements tried for an added object or a background patch clear of the edit
BACKGROUND_AREA = (0.02, 0.12)  # a changed background patch, as a share of the image


def _background_patch(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random ellipse covering :data:`BACKGROUND_AREA` of an ``(H, W)`` image, as a bool mask."""
    h, w = shape
    area = rng.uniform(*BACKGROUND_AREA) * h * w
    aspect = rng.uniform(0.5, 2.0)
    ax, ay = np.sqrt(area * aspect / np.pi), np.sqrt(area / aspect / np.pi)
    centre = (int(rng.integers(w)), int(rng.integers(h)))
    patch = np.zeros((h, w), np.uint8)
    cv2.ellipse(patch, centre, (max(2, int(ax)), max(2, int(ay))), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return patch > 0


def add_side_effect(
    photo: Photo,
    edit: Edit,
    rng: np.random.Generator,
    kinds: dict[str, float],
    inpaint: Inpainter,
    donor: tuple[Photo, Instance] | None = None,
    blur_sigma: tuple[float, float] = BLUR_SIGMA,
) -> Edit:
    """An unintended change the instruction does not mention, of a kind drawn from ``kinds``
    (weights over :data:`SIDE_EFFECT_KINDS`): it IS an edit, so it joins the mask, and it lies
    clear of the asked-for edit (``side_effect`` and the rest of the mask are disjoint). The edit is
    returned unchanged when the drawn kind finds no place (no bystander object, no free room)."""
    if edit.edit_type == "global":
        return edit
    names = [k for k in SIDE_EFFECT_KINDS if kinds.get(k, 0) > 0]
    weights = np.array([kinds[k] for k in names], float)
    kind = names[rng.choice(len(names), p=weights / weights.sum())]
    clear = ~_dilate(edit.mask, 3)
    bystanders = [i for i in photo.instances if not (i.mask & ~clear).any()]
    base = edit.edited
    if kind in ("recolour", "remove"):
        if not bystanders:
            return edit
        victim = bystanders[rng.integers(len(bystanders))]
        what = victim.category
        if kind == "remove":
            region = _dilate(victim.mask, int(rng.integers(2, 5))) & clear
            edited = inpaint(base, region, rng)
        elif rng.random() < 0.5:
            hue = list(HUES.values())[rng.integers(len(HUES))]
            edited = recolour_region(base, victim.mask, hue, min_saturation=90)
        else:
            change = TONE_CHANGES[rng.integers(len(TONE_CHANGES))]
            edited = adjust_region(base, victim.mask, change, rng, blur_sigma)
    else:
        for _ in range(SIDE_EFFECT_TRIES):
            if kind == "add":
                if donor is None:
                    return edit
                h, w = base.shape[:2]
                centre = (int(rng.integers(w)), int(rng.integers(h)))
                edited, region = paste(base, *_cutout(*donor), centre, int(h * rng.uniform(0.15, 0.35)))
                what = donor[1].category
            else:
                region = _background_patch(base.shape[:2], rng)
                change = TONE_CHANGES[rng.integers(len(TONE_CHANGES))]
                edited, what = adjust_region(base, region, change, rng, blur_sigma), "background"
            if not (region & ~clear).any():
                break
        else:
            return edit
    edited = np.where(edit.mask[..., None], base, edited)  # the asked-for edit stays as it was
    changed = (edited != base).any(-1)
    if not changed.any():
        return edit
    extra = {**edit.extra, "side_effect": what, "side_effect_kind": kind}
    return Edit(edited, edit.mask | changed, edit.instruction, edit.parsed, edit.edit_type, extra, changed)
