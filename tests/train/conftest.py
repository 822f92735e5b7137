"""A tiny project for training tests: synthetic pairs in a temp folder, a tiny model config."""

from __future__ import annotations

import pytest

from sigma.config import load_params
from sigma.data.builtin import iter_builtin
from sigma.data.photos import fit_max_side
from sigma.data.synth import synthesise
from tests.conftest import ROOT

TINY = [
    "data.max_side=96", "data.edit.perturb.vae=null", "data.calib.perturb.vae=null",  # the VAE is trained later
    "model.backbone.input_size=64", "model.dim=16", "model.heads=2", "model.decoder_dim=8",
    "model.grounder.name=none",
    "vae.steps=2", "vae.batch_size=2", "vae.crop_size=32", "vae.block_out_channels=[8, 16]",
]
for stage in ("stage1", "stage2"):
    TINY += [f"{stage}.batch_size=4", f"{stage}.crop_size=64", f"{stage}.epochs=2", f"{stage}.checkpoint_every=1",
             f"{stage}.warmup_steps=0"]


def tiny_params(*overrides: str):
    return load_params(ROOT / "params.yaml", [*TINY, *overrides])


@pytest.fixture(scope="session")
def tiny_project(tmp_path_factory):
    """A folder with data/synth/{inpaint,edit,calib} (a few pairs each) to chdir into."""
    root = tmp_path_factory.mktemp("project")
    params = tiny_params("data.inpaint.n_pairs=16", "data.edit.n_pairs=16", "data.calib.n_pairs=6")
    photos = [fit_max_side(p, 96) for p in iter_builtin(n_scenes=12)]
    for kind in ("inpaint", "edit", "calib"):
        synthesise(kind, photos, params.data, root / "data" / "synth" / kind)
    return root
