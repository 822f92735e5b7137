"""One self-describing checkpoint: the model config in the safetensors header, weights in the body.

Frozen pretrained parts (backbone, text encoder) can be left out (``include_pretrained=False``,
training checkpoints: small) and are then rebuilt from their named source on load; with them
in (the registered model) the file needs nothing else.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from sigma.config import ModelParams, ParserParams
from sigma.model.backbones.base import PretrainedPart
from sigma.model.build import build_sigma
from sigma.model.sigma import SigmaAnnotator

# The learned grounder's training vocabulary (its LearnedGrounder.knows), which its weights alone do not hold.
GROUNDER_VOCABULARY = "grounder_vocabulary"

FORMAT = "sigma-annotator/1"
HEADER_KEY = "sigma"


class CheckpointError(ValueError):
    """A file that is not a SIGMA checkpoint, or one that does not fit its own config."""


def pretrained_prefixes(model: torch.nn.Module) -> list[str]:
    return [
        f"{name}." for name, m in model.named_modules(remove_duplicate=False) if name and isinstance(m, PretrainedPart)
    ]


def checkpoint_state(model: SigmaAnnotator, include_pretrained: bool) -> dict[str, torch.Tensor]:
    """State dict with tensors shared by several modules (the backbone the grounder reuses) once."""
    if include_pretrained and any(isinstance(m, PretrainedPart) and m.fused for m in model.modules()):
        raise ValueError(
            "the backbone's BatchNorms are folded for inference (fuse_batchnorm): its weights are no "
            "longer its source's; save or digest the model before fusing it"
        )
    skip = () if include_pretrained else tuple(pretrained_prefixes(model))
    state, seen = {}, set()
    for name, tensor in model.state_dict().items():
        key = (tensor.data_ptr(), tensor.shape, tensor.dtype) if tensor.numel() else None
        if name.startswith(skip) or (key is not None and key in seen):
            continue
        seen.add(key)
        state[name] = tensor.detach().contiguous().cpu()
    return state


def weights_digest(model: SigmaAnnotator) -> str:
    """``sha256:<16 hex>`` of the model's config and every weight: what annotated a corpus, by content.

    The same weights give the same digest whether they came from a checkpoint file or the registry,
    so records do not carry a registry version number (one registry's history, not the model's). A
    recorded grounder vocabulary counts too: it decides which splits are known. Config keys added
    later are left out at their old behaviour, so older checkpoints keep their digests.
    """
    unset = {"refine": {"local_stats"}} if not model.config.refine.local_stats else None
    digest = hashlib.sha256(model.config.model_dump_json(exclude=unset).encode())
    if model.grounder.vocabulary is not None:  # absent before it was recorded: those digests stay as they were
        digest.update(json.dumps(list(model.grounder.vocabulary)).encode())
    for name, tensor in sorted(checkpoint_state(model, include_pretrained=True).items()):
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data)
    return f"sha256:{digest.hexdigest()[:16]}"


def save_checkpoint(
    model: SigmaAnnotator,
    path: str | Path,
    *,
    include_pretrained: bool = False,
    parser: ParserParams | None = None,
    extra: dict[str, str] | None = None,
) -> Path:
    """Write ``path`` atomically (a ``.tmp`` sibling renamed into place). A backbone with no
    pretrained source (``backbone.pretrained: false``: random frozen weights) is always included:
    nothing else could rebuild it."""
    include_pretrained = include_pretrained or not model.config.backbone.pretrained
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "model": model.config.model_dump_json(),
        "parser": (parser or ParserParams()).model_dump_json(),
        "include_pretrained": json.dumps(include_pretrained),
        **(extra or {}),
    }
    if model.grounder.vocabulary is not None:
        meta[GROUNDER_VOCABULARY] = json.dumps(list(model.grounder.vocabulary))
    tmp = path.with_name(path.name + ".tmp")
    # One header key holding sorted JSON: safetensors writes several keys in hash order, so the same
    # model gave different bytes on each save (and DVC saw a changed output on every run).
    header = {HEADER_KEY: json.dumps(meta, sort_keys=True)}
    save_file(checkpoint_state(model, include_pretrained), str(tmp), metadata=header)
    tmp.replace(path)
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        if HEADER_KEY in meta:  # older checkpoints hold the keys directly
            meta = json.loads(meta[HEADER_KEY])
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} not found") from None
    except Exception as exc:  # safetensors raises its own error types for a bad header
        raise CheckpointError(f"{path} is not a safetensors file: {exc}") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a SIGMA checkpoint (format {meta.get('format')!r}, want {FORMAT!r})")
    return meta


def legacy_model_config(config: dict[str, Any]) -> dict[str, Any]:
    """Checkpoints written before the full-resolution refinement (no ``refine`` key; registered
    champions among them) squashed their input and had no refiner, and those written before the
    logit rules (no ``postprocess`` key), the growth rule (no ``grow_band``) or the pixel
    statistics (no ``pixel_stats`` key) had none: load them as they were."""
    if "refine" not in config:
        config = {**config, "geometry": "squash", "refine": {"enabled": False}}
    if "postprocess" not in config:
        config = {**config, "postprocess": {"exact_min_identical": None, "min_region": 0}}
    if "grow_band" not in config["postprocess"]:
        config = {**config, "postprocess": {**config["postprocess"], "grow_band": 0}}
    if "pixel_stats" not in config:
        config = {**config, "pixel_stats": False}
    return config


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> SigmaAnnotator:
    """Rebuild the model its header describes and load the weights (strictly)."""
    from safetensors.torch import load_file

    meta = read_metadata(path)
    config = ModelParams.model_validate(legacy_model_config(json.loads(meta["model"])))
    parser = ParserParams.model_validate_json(meta["parser"])
    included = json.loads(meta["include_pretrained"])
    model = build_sigma(config, parser, pretrained=not included, load_grounder=False)
    state = load_file(str(path), device="cpu")
    expected = checkpoint_state(model, included)
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{path} does not fit its config: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.load_state_dict(state, strict=False)
    if GROUNDER_VOCABULARY in meta:
        model.grounder.vocabulary = tuple(json.loads(meta[GROUNDER_VOCABULARY]))
    return model.to(device).eval()
