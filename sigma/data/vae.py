"""The diffusion VAE round trip ``dec(enc(x) + eps)``, via diffusers: the noise a diffusion editor
adds to every pixel (synthetic edits) and the Stage II calibration pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL

from sigma.config import VaeParams


def small_vae(params: VaeParams) -> AutoencoderKL:
    """An untrained AutoencoderKL of ``params``' size (the offline VAE that ``sigma train vae`` fits)."""
    levels = len(params.block_out_channels)
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=params.latent_channels,
        block_out_channels=tuple(params.block_out_channels), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * levels, up_block_types=("UpDecoderBlock2D",) * levels,
        norm_num_groups=params.norm_groups,
    )


def load_vae(path: str) -> AutoencoderKL:
    """A frozen AutoencoderKL from a folder (``sigma train vae`` output) or a cached hub id."""
    try:
        vae = AutoencoderKL.from_pretrained(path)
    except (OSError, ValueError) as exc:
        hint = "run `sigma train vae` (dvc repro vae)" if not Path(path).is_absolute() else "check the path"
        raise FileNotFoundError(f"no VAE at {path!r}: {hint}, or set vae.pretrained to a cached hub id") from exc
    return vae.requires_grad_(False).eval()


def downscale(vae: AutoencoderKL) -> int:
    return 2 ** (len(vae.config.block_out_channels) - 1)


@torch.no_grad()
def round_trip(vae: AutoencoderKL, images: torch.Tensor, sigma: torch.Tensor,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """``images`` ``(B, 3, H, W)`` in [0, 1], ``sigma`` ``(B,)`` latent noise std -> round-tripped images.

    Noise is added to the scaled latents (the diffusion model's units, ``scaling_factor``); sizes
    that the VAE cannot halve evenly are reflect-padded and cropped back.
    """
    h, w = images.shape[-2:]
    k = downscale(vae)
    pad = (0, (-w) % k, 0, (-h) % k)
    x = F.pad(images * 2 - 1, pad, mode="reflect") if any(pad) else images * 2 - 1
    scale = vae.config.scaling_factor
    latents = vae.encode(x.to(vae.dtype)).latent_dist.mode() * scale
    noise = torch.randn(latents.shape, generator=generator, dtype=latents.dtype).to(latents.device)
    latents = latents + noise * sigma.to(latents)[:, None, None, None]
    out = vae.decode(latents / scale).sample[..., :h, :w]
    return ((out.float() + 1) / 2).clamp(0, 1)


def round_trip_image(vae: AutoencoderKL, image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """:func:`round_trip` of one ``(H, W, 3)`` uint8 image, noise from ``seed``; uint8 out."""
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div(255).to(vae.device)
    out = round_trip(vae, x, torch.tensor([sigma]), generator=torch.Generator().manual_seed(seed))[0]
    return (out.permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
