"""The diffusion VAE round trip ``dec(enc(x) + eps)``, via diffusers: the noise a diffusion editor
adds to every pixel (synthetic edits) and the Stage II calibration pairs.

A VAE folder may carry ``round_trip.json`` (written by ``sigma train vae``): ``colour_fix_sigma``,
the Gaussian sigma in pixels below which the round trip's output takes the input's frequencies
(StableSR's colour fix), so a small VAE's colour shifts do not pass for drift.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL
from torchvision.transforms.functional import gaussian_blur

from sigma.config import VaeParams

ROUND_TRIP_CONFIG = "round_trip.json"


def small_vae(params: VaeParams) -> AutoencoderKL:
    """An untrained AutoencoderKL of ``params``' size (the offline VAE that ``sigma train vae`` fits)."""
    levels = len(params.block_out_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=params.latent_channels,
        block_out_channels=tuple(params.block_out_channels),
        layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * levels,
        up_block_types=("UpDecoderBlock2D",) * levels,
        norm_num_groups=params.norm_groups,
    )


def load_vae(path: str) -> AutoencoderKL:
    """A frozen AutoencoderKL from a folder (``sigma train vae`` output) or a cached hub id."""
    try:
        vae = AutoencoderKL.from_pretrained(path)
    except (OSError, ValueError) as exc:
        hint = "run `sigma train vae` (dvc repro vae)" if not Path(path).is_absolute() else "check the path"
        raise FileNotFoundError(f"no VAE at {path!r}: {hint}, or set vae.pretrained to a cached hub id") from exc
    settings = Path(path) / ROUND_TRIP_CONFIG
    if settings.is_file():
        vae.colour_fix_sigma = float(json.loads(settings.read_text())["colour_fix_sigma"])
    return vae.requires_grad_(False).eval()


def save_vae(vae: AutoencoderKL, path: str | Path) -> None:
    """``save_pretrained`` plus the round-trip settings (:data:`ROUND_TRIP_CONFIG`)."""
    vae.save_pretrained(str(path))
    settings = {"colour_fix_sigma": getattr(vae, "colour_fix_sigma", 0.0)}
    (Path(path) / ROUND_TRIP_CONFIG).write_text(json.dumps(settings) + "\n")


def colour_fix(output: torch.Tensor, images: torch.Tensor, sigma: float) -> torch.Tensor:
    """``output`` ``(B, 3, H, W)`` with its frequencies below a Gaussian of ``sigma`` px replaced by
    those of ``images``: ``output + blur(images - output)``."""
    if sigma <= 0:
        return output
    # 3 sigma each side, but no wider than the image: the blur pads by reflection.
    size = min(2 * math.ceil(3 * sigma) + 1, 2 * min(output.shape[-2:]) - 1)
    return output + gaussian_blur(images - output, [size, size], [sigma, sigma])


def downscale(vae: AutoencoderKL) -> int:
    return 2 ** (len(vae.config.block_out_channels) - 1)


# The mid-block attention spans the whole latent: its cost grows with the square of the pixels, minutes
# for one 1600-px photo on a CPU. Larger images round-trip in overlapping tiles of TILE_SIDE px (diffusers'
# tiled encode / decode, blended), each as costly as a small image; those up to TILED_ABOVE px (every
# training pair, the COCO dev benchmark) exactly as before. A 1600-px round trip takes 4.4 s (8.2 at 512-px
# tiles); on a 640-px photo forced through 256-px tiles, PSNR 33.4 dB against 34.1 untiled (41.9 between them).
TILED_ABOVE = 1024
TILE_SIDE = 256


@contextmanager
def tiling(vae: AutoencoderKL, size: tuple[int, int]) -> Iterator[None]:
    """Within the block, ``vae`` encodes and decodes an image of ``size`` ``(H, W)`` in tiles when its
    longer side exceeds :data:`TILED_ABOVE`."""
    saved = vae.use_tiling, vae.tile_sample_min_size, vae.tile_latent_min_size
    if max(size) > TILED_ABOVE:
        vae.use_tiling, vae.tile_sample_min_size = True, TILE_SIDE
        vae.tile_latent_min_size = TILE_SIDE // downscale(vae)
    try:
        yield
    finally:
        vae.use_tiling, vae.tile_sample_min_size, vae.tile_latent_min_size = saved


@torch.no_grad()
def round_trip(
    vae: AutoencoderKL,
    images: torch.Tensor,
    sigma: torch.Tensor,
    generator: torch.Generator | None = None,
    colour_fix_sigma: float | None = None,
) -> torch.Tensor:
    """``images`` ``(B, 3, H, W)`` in [0, 1], ``sigma`` ``(B,)`` latent noise std -> round-tripped images.

    Noise is added to the scaled latents (the diffusion model's units, ``scaling_factor``); sizes
    that the VAE cannot halve evenly are reflect-padded and cropped back; images larger than
    :data:`TILED_ABOVE` px go through in tiles (:func:`tiling`). ``colour_fix_sigma``:
    :func:`colour_fix`'s, by default the VAE's own (its folder's ``round_trip.json``; else 0).
    """
    if colour_fix_sigma is None:
        colour_fix_sigma = getattr(vae, "colour_fix_sigma", 0.0)
    h, w = images.shape[-2:]
    k = downscale(vae)
    pad = (0, (-w) % k, 0, (-h) % k)
    x = F.pad(images * 2 - 1, pad, mode="reflect") if any(pad) else images * 2 - 1
    scale = vae.config.scaling_factor
    with tiling(vae, (h, w)):
        latents = vae.encode(x.to(vae.dtype)).latent_dist.mode() * scale
        noise = torch.randn(latents.shape, generator=generator, dtype=latents.dtype).to(latents.device)
        latents = latents + noise * sigma.to(latents)[:, None, None, None]
        out = (vae.decode(latents / scale).sample[..., :h, :w].float() + 1) / 2
    return colour_fix(out, images.float(), colour_fix_sigma).clamp(0, 1)


def round_trip_image(vae: AutoencoderKL, image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """:func:`round_trip` of one ``(H, W, 3)`` uint8 image, noise from ``seed``; uint8 out."""
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div(255).to(vae.device)
    out = round_trip(vae, x, torch.tensor([sigma]), generator=torch.Generator().manual_seed(seed))[0]
    return (out.permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
