"""A detector checkpoint: one safetensors file whose header names the detector, its arguments and
what it was trained on, so ``load_detector`` rebuilds it from the file alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from sigma.model.detectors.base import Detector
from sigma.model.detectors.registry import build_detector

FORMAT = "sigma-detector/1"


class DetectorCheckpointError(ValueError):
    """A file that is not a detector checkpoint."""


def save_detector(model: Detector, path: str | Path, name: str, kwargs: dict[str, Any], info: dict[str, Any]) -> Path:
    """Write ``model`` (built as ``build_detector(name, model.input_size, **kwargs)``) atomically;
    ``info`` (label source, seed, recipe) goes into the header as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"format": FORMAT, "detector": name, "input_size": str(model.input_size)}
    header |= {"kwargs": json.dumps(kwargs), "info": json.dumps(info)}
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".partial")
    save_file(state, str(tmp), metadata=header)
    tmp.replace(path)
    return path


def read_header(path: str | Path) -> dict[str, Any]:
    """The header of a detector checkpoint: ``detector``, ``input_size``, ``kwargs`` and ``info``."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (OSError, ValueError, SafetensorError) as exc:  # missing file, or not safetensors at all
        raise DetectorCheckpointError(f"{path}: not a detector checkpoint ({exc})") from None
    if meta.get("format") != FORMAT:
        raise DetectorCheckpointError(
            f"{path}: not a detector checkpoint (format {meta.get('format')!r}; `sigma downstream train` writes them)"
        )
    return {
        "detector": meta["detector"],
        "input_size": int(meta["input_size"]),
        "kwargs": json.loads(meta["kwargs"]),
        "info": json.loads(meta["info"]),
    }


def load_detector(path: str | Path, device: str | None = None) -> Detector:
    """The detector saved at ``path``, in eval mode (the pretrained encoder is not re-read: the file holds it)."""
    header = read_header(path)
    model = build_detector(header["detector"], header["input_size"], **(header["kwargs"] | {"pretrained": False}))
    with safe_open(str(path), framework="pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
    model.load_state_dict(state)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval()
