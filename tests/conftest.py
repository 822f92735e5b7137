"""Shared fixtures. Tests never touch the network: hubs are offline and servers bind loopback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sigma.config import load_params
from sigma.data.builtin import iter_builtin
from sigma.data.photos import fit_max_side
from sigma.data.synth import synthesise

for key, value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "DVC_NO_ANALYTICS": "1",
    "GX_ANALYTICS_ENABLED": "false",
}.items():
    os.environ.setdefault(key, value)

# Under pytest-xdist (`make test`), the workers share the cores: each worker, and every process it starts,
# gets its share of threads, so OpenMP pools do not spin against each other on oversubscribed cores.
if workers := int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")):
    import torch

    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

ROOT = Path(__file__).resolve().parents[1]
COCO_TINY = ROOT.parent / "shared" / "data" / "coco_tiny"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """tests/integration first (stable otherwise): `make test` hands whole files to two xdist workers in this
    order (--no-loadscope-reorder), so the longest file, the DVC pipeline's two repros, starts at once
    instead of setting the end of the run."""
    items.sort(key=lambda item: item.path.parent.name != "integration")


@pytest.fixture(scope="session", autouse=True)
def user_data_home(tmp_path_factory) -> Path:
    """``$XDG_DATA_HOME`` of every test and the processes it starts (runs tracked outside a project go
    there, :func:`sigma.tracking.user_tracking_dir`): a session folder, never the user's own."""
    folder = tmp_path_factory.mktemp("xdg-data")
    os.environ["XDG_DATA_HOME"] = str(folder)
    return folder


@pytest.fixture(scope="session")
def coco_tiny() -> Path:
    """The development COCO subset beside the checkout (CI always has it; user clones may not)."""
    if not (COCO_TINY / "annotations" / "instances_train2017.json").exists():
        pytest.skip(f"needs ../shared/data/coco_tiny (not found at {COCO_TINY})")
    return COCO_TINY


# A tiny project for training and evaluation tests: synthetic pairs in a temp folder, a tiny model config.
TINY = [
    "data.max_side=96",
    "data.inpaint.perturb.vae=null",
    "data.edit.perturb.vae=null",
    "data.calib.perturb.vae=null",  # the VAE is trained later
    "model.backbone.input_size=64",
    "model.dim=16",
    "model.heads=2",
    "model.decoder_dim=8",
    "model.grounder.name=none",
    "model.refine.dim=8",
    "model.refine.max_side=96",
    "vae.steps=2",
    "vae.batch_size=2",
    "vae.crop_size=32",
    "vae.block_out_channels=[8, 16]",
    "annotate.processes=1",  # shards in the test's own process (tests/annotate/test_annotate_processes.py: the pool)
    "data.processes=1",  # likewise pairs (tests/data/test_synth.py: the pool)
    "ablation.processes=1",  # and ablation variants (tests/train/test_ablation_training.py: the pool)
]
for stage in ("stage1", "stage2"):
    TINY += [
        f"{stage}.batch_size=4",
        f"{stage}.crop_size=64",
        f"{stage}.epochs=2",
        f"{stage}.checkpoint_every=1",
        f"{stage}.warmup_steps=0",
    ]


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


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> str:
    """A tiny untrained SIGMA checkpoint (the tiny config, packaged backbone weights)."""
    import torch

    from sigma.model.build import build_sigma
    from sigma.model.checkpoint import save_checkpoint

    torch.manual_seed(0)
    params = tiny_params()
    model = build_sigma(params.model, params.parse)
    return str(save_checkpoint(model, tmp_path_factory.mktemp("model") / "sigma.safetensors"))


@pytest.fixture(scope="session")
def tiny_detector(tmp_path_factory) -> str:
    """A tiny untrained IML detector checkpoint (method ``detector``)."""
    import torch

    from sigma.model.detectors import build_detector, save_detector

    torch.manual_seed(0)
    model = build_detector("mobilenet_unet", 32, decoder_dim=8)
    path = tmp_path_factory.mktemp("detector") / "detector.safetensors"
    return str(save_detector(model, path, "mobilenet_unet", {"decoder_dim": 8}, {}))
