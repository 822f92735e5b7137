"""Shared fixtures. Tests never touch the network: hubs are offline and servers bind loopback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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

ROOT = Path(__file__).resolve().parents[1]
COCO_TINY = ROOT.parent / "shared" / "data" / "coco_tiny"


@pytest.fixture(scope="session")
def coco_tiny() -> Path:
    """The development COCO subset beside the checkout (CI always has it; user clones may not)."""
    if not (COCO_TINY / "annotations" / "instances_train2017.json").exists():
        pytest.skip(f"needs ../shared/data/coco_tiny (not found at {COCO_TINY})")
    return COCO_TINY
