"""A tiny downstream experiment: a few synthesised pairs, three label sources, a tiny detector."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigma.data.builtin import iter_builtin
from sigma.data.photos import fit_max_side
from sigma.data.synth import synthesise
from tests.conftest import tiny_params

TINY_DOWNSTREAM = [
    "data.downstream.n_pairs=40",
    "data.downstream.max_side=64",
    "data.downstream.perturb.vae=null",
    "data.split.val=0.2",
    "data.split.test=0.2",
    "downstream.corpus=data/synth/downstream",
    "downstream.sources={truth: truth, pixdiff_morph: 'method:pixdiff_morph', pixdiff_otsu: 'method:pixdiff_otsu'}",
    "downstream.baseline=pixdiff_morph",
    "downstream.detectors=[{name: mobilenet_unet, kwargs: {decoder_dim: 8}}]",
    "downstream.seeds=[0, 1]",
    "downstream.all_seeds=[truth]",
    "downstream.train={input_size: 32, epochs: 1, batch_size: 8}",
    "downstream.benchmarks=[{name: downstream_test, loader: pairs, path: data/synth/downstream, split: test}]",
    "downstream.processes=1",
    "annotate.shard_size=16",
    "annotate.batch_size=8",
]


def downstream_params(*overrides: str):
    return tiny_params(*TINY_DOWNSTREAM, *overrides)


@pytest.fixture(scope="session")
def downstream_project(tmp_path_factory) -> Path:
    """A folder holding data/synth/downstream (40 pairs at 64 px, unchanged ones among them)."""
    root = tmp_path_factory.mktemp("downstream")
    photos = [fit_max_side(p, 64) for p in iter_builtin(n_scenes=12)]
    synthesise("downstream", photos, downstream_params().data, root / "data" / "synth" / "downstream")
    return root
