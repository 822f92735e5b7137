"""Training stage of the offline VAE: a small AutoencoderKL fitted to the photos (recon + KL).

With ``vae.pretrained`` set (the paper's SD VAE in the local cache) nothing is trained: the
stage saves that VAE to ``vae.out`` so that later stages always read one folder.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from rich.progress import BarColumn, TextColumn, TimeRemainingColumn

from sigma.config import Params
from sigma.data.photos import load_photos
from sigma.data.storage import write_json_atomic
from sigma.data.synth import TRAINING_KINDS, split_of
from sigma.data.vae import load_vae, round_trip, save_vae, small_vae
from sigma.progress import LoggedProgress


def _crops(images: list[np.ndarray], n: int, size: int, rng: np.random.Generator) -> torch.Tensor:
    """``n`` random ``size``² crops (random flips) as ``(n, 3, size, size)`` in [0, 1]."""
    out = []
    for _ in range(n):
        img = images[rng.integers(len(images))]
        h, w = img.shape[:2]
        s = min(size, h, w)
        y, x = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
        crop = torch.from_numpy(np.ascontiguousarray(img[y : y + s, x : x + s])).permute(2, 0, 1).float() / 255
        if s != size:
            crop = F.interpolate(crop[None], size=(size, size), mode="bilinear", align_corners=False)[0]
        out.append(crop.flip(-1) if rng.random() < 0.5 else crop)
    return torch.stack(out)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = F.mse_loss(a, b).item()
    return float("inf") if mse == 0 else 10 * math.log10(1 / mse)


def train_vae_stage(params: Params, track: bool = True, metrics: str | Path | None = None) -> dict:
    """Fit (or copy) the VAE into ``vae.out``; return reconstruction PSNR on held-out photos."""
    cfg, data = params.vae, params.data
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    photos = load_photos(data.sources, data.max_side)
    if not photos:
        raise FileNotFoundError("no readable photo in data.sources")
    train = [p.image for p in photos if split_of(p.id, data.split.val, data.split.test) == "train"]
    held_out = [p.image for p in photos if split_of(p.id, data.split.val, data.split.test) != "train"] or train
    losses: list[float]
    if cfg.pretrained:
        vae, losses = load_vae(cfg.pretrained), []
    else:
        vae, losses = small_vae(cfg), []
        optimiser = torch.optim.AdamW(vae.parameters(), lr=cfg.lr)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, cfg.steps)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("loss {task.fields[loss]:.4f}"),
            TimeRemainingColumn(),
        )
        with LoggedProgress(*columns, transient=True) as progress:
            task = progress.add_task("training VAE", total=cfg.steps, loss=float("nan"))
            for _ in range(cfg.steps):
                x = _crops(train, cfg.batch_size, cfg.crop_size, rng) * 2 - 1
                posterior = vae.encode(x).latent_dist
                # The decoder learns the mode: the round trip's sigma is then the only latent noise,
                # so it lowers PSNR as it should (a sampled posterior taught the decoder to ignore noise).
                recon = vae.decode(posterior.mode()).sample
                loss = F.l1_loss(recon, x) + cfg.kl_weight * posterior.kl().mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                losses.append(loss.item())
                progress.update(task, advance=1, loss=float(np.mean(losses[-20:])))
        vae.eval().requires_grad_(False)
        with torch.no_grad():  # like SD: scale latents to unit variance, so sigma is in latent units
            latents = vae.encode(_crops(train, 32, cfg.crop_size, rng) * 2 - 1).latent_dist.mode()
        vae.register_to_config(scaling_factor=float(1 / latents.std()))

    vae.colour_fix_sigma = cfg.colour_fix_sigma
    probe = _crops(held_out, 16, cfg.crop_size, np.random.default_rng(cfg.seed + 1))

    def probe_psnr(sigma: float, colour_fix_sigma: float | None = None) -> float:
        noise = torch.full((len(probe),), sigma)
        generator = torch.Generator().manual_seed(cfg.seed)
        return psnr(round_trip(vae, probe, noise, generator, colour_fix_sigma), probe)

    summary = {
        "psnr_roundtrip": probe_psnr(0.0),
        "psnr_roundtrip_without_colour_fix": probe_psnr(0.0, colour_fix_sigma=0.0),
        "psnr_roundtrip_sigma_max": probe_psnr(params.stage2.sigma_max),  # Stage II calibration's sigma_max
        # the synthetic drift's largest (Stage I's pairs)
        "psnr_roundtrip_drift_sigma_max": probe_psnr(
            max(getattr(data, k).perturb.vae_sigma_max for k in TRAINING_KINDS)
        ),
        "final_loss": float(np.mean(losses[-20:])) if losses else None,
        "scaling_factor": float(vae.config.scaling_factor),
        "trained": not cfg.pretrained,
    }
    out = Path(cfg.out)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    save_vae(vae, tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    if metrics:
        write_json_atomic(str(metrics), summary)
    if track:
        from sigma.tracking import log_summary

        log_summary("vae", {"vae": cfg.model_dump(mode="json")}, summary, stage="vae")
    return summary
