"""Reading weight files: torch ``.pth`` (weights only) or ``.safetensors``."""

from __future__ import annotations

from pathlib import Path

import torch


def require_file(path: str | None) -> None:
    """Fail with the path named (timm alone raises a bare ``FileNotFoundError``)."""
    if path and not Path(path).exists():
        raise FileNotFoundError(f"weights file {path} not found (model weights cannot be downloaded here)")


def load_state_dict(path: str) -> dict[str, torch.Tensor]:
    """A state dict from a local file; a clear error when the file is absent."""
    require_file(path)
    file = Path(path)
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(file))
    state = torch.load(str(file), map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state
