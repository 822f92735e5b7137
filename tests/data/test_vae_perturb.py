"""The VAE round trip as a perturbation: every pixel drifts, deterministically, masks stay exact."""

import numpy as np
import pytest
import torch

from sigma.config import DataParams, PerturbParams, SourceParams, SynthKindParams, VaeParams
from sigma.data.builtin import iter_builtin
from sigma.data.dataset import EditPairDataset
from sigma.data.perturb import perturb
from sigma.data.photos import fit_max_side
from sigma.data.synth import synthesise
from sigma.data.vae import TILE_SIDE, TILED_ABOVE, load_vae, round_trip, round_trip_image, small_vae


@pytest.fixture(scope="module")
def vae_dir(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vae") / "vae"
    small_vae(VaeParams(block_out_channels=(8, 16), latent_channels=4)).save_pretrained(str(path))
    return path


def test_round_trip_keeps_size_and_range_and_follows_its_seed(vae_dir):
    vae = load_vae(str(vae_dir))
    image = np.random.default_rng(0).integers(0, 255, (37, 50, 3), dtype=np.uint8)  # odd sizes: padded
    a, b = round_trip_image(vae, image, 0.05, seed=3), round_trip_image(vae, image, 0.05, seed=3)
    assert a.shape == image.shape and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, image)
    x = torch.rand(2, 3, 16, 16)
    quiet = round_trip(vae, x, torch.zeros(2))
    noisy = round_trip(vae, x, torch.full((2,), 5.0), generator=torch.Generator().manual_seed(1))
    assert float(noisy.min()) >= 0 and float(noisy.max()) <= 1
    assert not torch.allclose(quiet, noisy), "latent noise sigma had no effect"


def test_drift_at_zero_strength_is_the_identity_even_with_a_vae(vae_dir):
    vae = load_vae(str(vae_dir))
    image = np.full((24, 24, 3), 128, np.uint8)
    assert perturb(image, 0.0, np.random.default_rng(0), PerturbParams(), vae) is image
    out = perturb(image, 0.5, np.random.default_rng(0), PerturbParams(vae_prob=1.0), vae)
    assert out.shape == image.shape and not np.array_equal(out, image)


def test_latent_noise_lowers_round_trip_psnr(vae_dir):
    vae = load_vae(str(vae_dir))
    image = np.random.default_rng(2).integers(0, 255, (32, 32, 3), dtype=np.uint8)

    def psnr(sigma: float) -> float:
        out = round_trip_image(vae, image, sigma, seed=0).astype(float)
        return float(10 * np.log10(255**2 / np.mean((out - image) ** 2)))

    assert psnr(0.0) > psnr(1.0) > psnr(4.0)


def test_synthesised_edits_through_the_vae_keep_exact_masks_for_any_number_of_threads(vae_dir, tmp_path, monkeypatch):
    """The same bytes whatever torch's thread count (synthesis runs the round trip on one)."""
    import sigma.data.vae as vae_module

    round_trip_threads: list[int] = []
    real_round_trip = vae_module.round_trip_image

    def spied(*args):  # a tiny VAE may sum alike on 1 and 2 threads: check the thread count itself
        round_trip_threads.append(torch.get_num_threads())
        return real_round_trip(*args)

    monkeypatch.setattr(vae_module, "round_trip_image", spied)
    photos = [fit_max_side(p, 96) for p in iter_builtin(n_scenes=6)]
    kind = SynthKindParams(
        n_pairs=4, seed=1, edit_mix={"recolour": 1.0}, perturb=PerturbParams(strength=(0.5, 0.5), vae=str(vae_dir))
    )
    data = DataParams(sources=[SourceParams(kind="builtin")], max_side=96, inpaint=kind, edit=kind, calib=kind)
    threads = torch.get_num_threads()
    try:
        for name, n in (("a", 1), ("b", 2)):
            torch.set_num_threads(n)
            synthesise("edit", photos, data, tmp_path / name)
            assert torch.get_num_threads() == n, "synthesis did not restore the thread count"
    finally:
        torch.set_num_threads(threads)
    assert round_trip_threads and set(round_trip_threads) == {1}
    a, b = EditPairDataset(str(tmp_path / "a")), EditPairDataset(str(tmp_path / "b"))
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x["edited"], y["edited"]), "VAE perturbation is not deterministic"
        outside = x["mask"][0] == 0
        drift = (x["original"] - x["edited"]).abs().amax(0)
        assert (drift[outside] > 0).float().mean() > 0.5, "the round trip left the unedited pixels alone"


def test_colour_fix_keeps_the_colours_an_untrained_vae_loses(vae_dir, tmp_path):
    """A flat saturated patch comes back in its own colour once the colour fix is on, the setting
    travels with the saved VAE, and an image smaller than the blur still round-trips."""
    from sigma.data.vae import ROUND_TRIP_CONFIG, save_vae

    vae = load_vae(str(vae_dir))
    patch = torch.zeros(1, 3, 32, 32)
    patch[:, 1] = 0.8  # saturated green
    raw = round_trip(vae, patch, torch.zeros(1), colour_fix_sigma=0.0)
    fixed = round_trip(vae, patch, torch.zeros(1), colour_fix_sigma=3.0)
    assert (fixed - patch).abs().mean() < 0.25 * (raw - patch).abs().mean()
    vae.colour_fix_sigma = 3.0
    save_vae(vae, tmp_path / "fixed")
    assert (tmp_path / "fixed" / ROUND_TRIP_CONFIG).is_file()
    reloaded = load_vae(str(tmp_path / "fixed"))
    torch.testing.assert_close(round_trip(reloaded, patch, torch.zeros(1)), fixed)
    assert getattr(load_vae(str(vae_dir)), "colour_fix_sigma", 0.0) == 0.0  # a plain diffusers folder: no fix
    tiny = torch.rand(1, 3, 4, 6)  # smaller than the blur's reach
    assert round_trip(reloaded, tiny, torch.zeros(1)).shape == tiny.shape


def test_a_photo_above_the_tiling_size_round_trips_in_tiles_and_a_smaller_one_whole(vae_dir):
    vae = load_vae(vae_dir)
    seen: list[tuple[int, int]] = []
    vae.encoder.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape[-2:])))
    rng = np.random.default_rng(0)
    small = (rng.random((300, 500, 3)) * 255).astype(np.uint8)
    large = (rng.random((TILED_ABOVE + 4, 600, 3)) * 255).astype(np.uint8)

    assert round_trip_image(vae, small, 0.0, 0).shape == small.shape
    assert seen == [(300, 500)]
    seen.clear()
    out = round_trip_image(vae, large, 0.0, 0)
    assert out.shape == large.shape and out.dtype == np.uint8
    assert len(seen) > 1 and max(max(s) for s in seen) <= TILE_SIDE
    assert not vae.use_tiling  # the next, smaller photo goes through whole again
