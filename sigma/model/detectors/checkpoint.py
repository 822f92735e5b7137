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
HEADER_KEY = "sigma-detector"  # the one metadata key: its JSON names the format, detector, arguments, info


class DetectorCheckpointError(ValueError):
    """A file that is not a detector checkpoint."""


def save_detector(model: Detector, path: str | Path, name: str, kwargs: dict[str, Any], info: dict[str, Any]) -> Path:
    """Write ``model`` (built as ``build_detector(name, model.input_size, **kwargs)``) atomically;
    ``info`` (label source, seed, recipe) goes into the header as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"detector": name, "input_size": model.input_size, "kwargs": kwargs, "info": info}
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + ".partial")
    # One metadata key: safetensors writes several in no fixed order, and the file must be byte-stable.
    save_file(state, str(tmp), metadata={HEADER_KEY: json.dumps({"format": FORMAT} | header, sort_keys=True)})
    tmp.replace(path)
    return path


def read_header(path: str | Path) -> dict[str, Any]:
    """The header of a detector checkpoint: ``detector``, ``input_size``, ``kwargs`` and ``info``."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (OSError, ValueError, SafetensorError) as exc:  # missing file, or not safetensors at all
        raise DetectorCheckpointError(f"{path}: not a detector checkpoint ({exc})") from None
    try:
        header = json.loads(meta[HEADER_KEY]) if HEADER_KEY in meta else {}
    except ValueError:
        header = {}
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise DetectorCheckpointError(f"{path}: not a detector checkpoint (`sigma downstream train` writes them)")
    return header


def load_detector(path: str | Path, device: str | None = None) -> Detector:
    """The detector saved at ``path``, in eval mode (the pretrained encoder is not re-read: the file holds it)."""
    header = read_header(path)
    model = build_detector(header["detector"], header["input_size"], **(header["kwargs"] | {"pretrained": False}))
    with safe_open(str(path), framework="pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
    model.load_state_dict(state)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval()
