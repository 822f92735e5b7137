"""Shapes, parameter counts and FLOPs of the SIGMA presets, as markdown tables (for docs/model.md).

For each preset and input size the model is built with random weights (``pretrained=False``;
shapes and FLOPs do not depend on the weights) and ``model.backbone.input_size`` set to the size.
The paper preset's LangSAM grounder needs weights that are not available offline, so it is
swapped for ``grounder.name=none``; the grounder is not part of :meth:`SigmaAnnotator.forward`
anyway (the forward takes a ready intent map).

* shapes: forward hooks on the submodules during one forward of one pair (batch 1);
* parameters: frozen (``requires_grad=False``) vs trainable, per top-level part;
* FLOPs: ``torch.utils.flop_counter.FlopCounterMode`` over one forward of batch 1 (one pair).
  FLOPs = 2 x multiply-accumulates of conv / matmul / attention ops; element-wise ops, norms and
  resampling are not counted. The MHA inference fast path is switched off while counting so that
  its attention shows up as countable matmuls (same arithmetic).

Example::

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/model_summary.py
    HF_HUB_OFFLINE=1 .venv/bin/python scripts/model_summary.py --preset sigma_offline --size 256
"""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Sequence

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count  # noqa: E402

from sigma.config import ModelParams  # noqa: E402
from sigma.model.build import PRESETS, build_sigma  # noqa: E402

DEFAULT_PRESETS = ("sigma_offline", "sigma_paper")
DEFAULT_SIZES = (256, 518)
PARTS = ("backbone", "difference", "intent_encoder", "refinement", "decoder", "refiner", "grounder")


def bench_config(preset: str, size: int) -> ModelParams:
    """The preset at ``size``; a grounder that needs unavailable weights (langsam) becomes ``none``."""
    config = PRESETS[preset]
    update = {"backbone": config.backbone.model_copy(update={"input_size": size})}
    if config.grounder.name == "langsam":
        update["grounder"] = config.grounder.model_copy(update={"name": "none"})
    return config.model_copy(update=update)


def build(preset: str, size: int) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_sigma(bench_config(preset, size), pretrained=False, load_grounder=False).eval()


def example_inputs(model: nn.Module, size: int, batch: int = 1) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    original = torch.rand(batch, 3, size, size, generator=g)
    edited = torch.rand(batch, 3, size, size, generator=g)
    intent = torch.full((batch, 1, *model.grid()), model.config.eps)
    return original, edited, intent


# ----------------------------------------------------------------------------------------- shapes
def _shapes(x) -> str:
    if isinstance(x, torch.Tensor):
        return "×".join(str(d) for d in x.shape)
    if isinstance(x, (list, tuple)):
        return ", ".join(_shapes(v) for v in x)
    return type(x).__name__


def _hook_points(model: nn.Module) -> list[tuple[str, str, str]]:
    """(label, module path, what) for the modules whose outputs are traced, in forward order."""
    points = []
    modules = dict(model.named_modules())
    for name in modules:  # backbone stages (MobileNet) / none for ViT
        if name.count(".") == 2 and name.startswith("backbone.stages."):
            points.append((f"backbone stage {name.rsplit('.', 1)[1]} (raw)", name, "both images stacked: 2B"))
    points.append(("backbone levels (on token grid)", "backbone", "L maps, both images stacked: 2B"))
    for i in range(len(model.difference.msdb.proj)):
        points.append((f"MSDB proj level {i}", f"difference.msdb.proj.{i}", "1×1 conv of [abs(fo−fe), fo⊙fe, fo, fe]"))
    points.append(("MSDB tokens", "difference.msdb", "(B, L, N, C)"))
    for i in range(len(model.difference.blocks)):
        points.append((f"DRB {i} out", f"difference.blocks.{i}", "(B, L, N, C)"))
    points.append(("E_v (aggregated)", "difference.aggregate", "(B, N, C)"))
    points.append(("E_i", "intent_encoder", "(B, N, C)"))
    for i in range(len(model.refinement.rounds)):
        points.append((f"BCMR round {i} out", f"refinement.rounds.{i}", "(E_v, E_i)"))
    points.append(("BCMR out", "refinement", "(E_v, E_i, Z)"))
    points.append(("Z (consensus)", "refinement.consensus", "(B, N, C)"))
    for i in range(len(model.decoder.lateral)):
        points.append((f"FPN lateral level {i}", f"decoder.lateral.{i}", "pooled level → decoder_dim"))
    points.append(("FPN top-down (smoothed)", "decoder.smooth", "finest pyramid map"))
    points.append(("fuse([up(P), up(Z)])", "decoder.fuse", "at input / decoder_stride"))
    points.append(("residual conv blocks", "decoder.blocks", "at input / decoder_stride"))
    points.append(("mask head", "decoder.head", "before final upsampling"))
    points.append(("decoder output logits", "decoder", "(B, 2, H, W)"))
    return [p for p in points if p[1] in modules]


def trace_shapes(model: nn.Module, inputs: Sequence[torch.Tensor]) -> list[tuple[str, str, str]]:
    modules = dict(model.named_modules())
    rows: list[tuple[str, str, str]] = []
    handles = []
    for label, path, note in _hook_points(model):

        def hook(_m, _inp, out, label=label, note=note):
            rows.append((label, _shapes(out), note))

        handles.append(modules[path].register_forward_hook(hook))
    try:
        with torch.inference_mode():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    return rows


# ------------------------------------------------------------------------------------- parameters
def param_counts(model: nn.Module) -> list[tuple[str, int, int]]:
    """(part, frozen, trainable) per top-level part; parameters shared with an earlier part
    (the learned grounder reuses the backbone) are counted once, under the earlier part."""
    seen: set[int] = set()
    rows = []
    for part in PARTS:
        module = getattr(model, part, None)
        if module is None:
            continue
        frozen = trainable = 0
        for p in module.parameters():
            if id(p) in seen:
                continue
            seen.add(id(p))
            if p.requires_grad:
                trainable += p.numel()
            else:
                frozen += p.numel()
        rows.append((part, frozen, trainable))
    return rows


# ------------------------------------------------------------------------------------------ FLOPs
def _sdpa_cpu_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """FlopCounterMode has formulas for the CUDA SDPA kernels only; the CPU one is the same maths."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


CUSTOM_FLOPS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_cpu_flop}


def _aliases(model: nn.Module, part: str) -> list[str]:
    """Every qualified name of the part's module: a shared module (the backbone, also reachable as
    ``grounder.backbone``) is reported by FlopCounterMode under only one of them."""
    target = getattr(model, part)
    root = type(model).__name__
    return [f"{root}.{name}" for name, m in model.named_modules(remove_duplicate=False) if m is target]


def flops_per_part(model: nn.Module, inputs: Sequence[torch.Tensor]) -> tuple[int, dict[str, int]]:
    counter = FlopCounterMode(display=False, depth=2, custom_mapping=CUSTOM_FLOPS)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), counter:
            model(*inputs)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    counts = counter.get_flop_counts()
    total = counter.get_total_flops()
    parts = {}
    for part in PARTS:
        if getattr(model, part, None) is None or part == "grounder":
            continue
        found = [sum(counts[k].values()) for k in _aliases(model, part) if k in counts]
        parts[part] = max(found, default=0)
    return total, parts


# ------------------------------------------------------------------------------------------ report
def _md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _m(n: int) -> str:
    return f"{n / 1e6:.3f} M" if n >= 10_000 else f"{n:,}"


def summarise(preset: str, size: int, show_shapes: bool = True) -> dict:
    model = build(preset, size)
    inputs = example_inputs(model, size)
    cfg = model.config
    print(
        f"\n## {preset} @ {size}² (backbone {cfg.backbone.name}, grid {model.grid()}, dim {cfg.dim}, "
        f"heads {cfg.heads}, drb_blocks {cfg.drb_blocks}, bcmr_rounds {cfg.bcmr_rounds}, "
        f"decoder_dim {cfg.decoder_dim}, decoder_stride {cfg.decoder_stride}, grounder {cfg.grounder.name})\n"
    )
    if show_shapes:
        print("### Tensor shapes (one pair, B=1)\n")
        print(_md_table(("stage", "output shape", "note"), trace_shapes(model, inputs)))
        print()
    params = param_counts(model)
    forward_parts = [r for r in params if r[0] != "grounder"]
    tot_frozen = sum(r[1] for r in forward_parts)
    tot_train = sum(r[2] for r in forward_parts)
    print("### Parameters\n")
    rows = [(part, _m(f), _m(t), _m(f + t)) for part, f, t in params]
    rows.append(("**forward total** (without grounder)", _m(tot_frozen), _m(tot_train), _m(tot_frozen + tot_train)))
    print(_md_table(("part", "frozen", "trainable", "total"), rows))
    print()
    total, parts = flops_per_part(model, inputs)
    rest = total - parts.get("backbone", 0)
    print("### FLOPs per pair (one forward, B=1)\n")
    rows = [(part, f"{n / 1e9:.3f}") for part, n in parts.items()]
    unattributed = total - sum(parts.values())
    if unattributed:
        rows.append(("outside the parts", f"{unattributed / 1e9:.3f}"))
    rows.append(("rest (all but backbone)", f"{rest / 1e9:.3f}"))
    rows.append(("**total**", f"{total / 1e9:.3f}"))
    print(_md_table(("part", "GFLOPs"), rows))
    return {
        "preset": preset,
        "size": size,
        "frozen": tot_frozen,
        "trainable": tot_train,
        "gflops_total": total / 1e9,
        "gflops_backbone": parts.get("backbone", 0) / 1e9,
        "gflops_rest": rest / 1e9,
        "gflops_parts": {k: v / 1e9 for k, v in parts.items()},
    }


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--preset",
        action="append",
        choices=sorted(PRESETS),
        help=f"preset to summarise (repeatable; default: {', '.join(DEFAULT_PRESETS)})",
    )
    ap.add_argument(
        "--size",
        action="append",
        type=int,
        help=f"square input size (repeatable; default: {', '.join(map(str, DEFAULT_SIZES))})",
    )
    ap.add_argument("--no-shapes", action="store_true", help="skip the tensor-shape tables")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    for preset in args.preset or DEFAULT_PRESETS:
        for size in args.size or DEFAULT_SIZES:
            try:
                results.append(summarise(preset, size, not args.no_shapes))
            except Exception as exc:  # noqa: BLE001 - report and go on with the other configurations
                print(f"\n**{preset} @ {size}² failed**: {type(exc).__name__}: {exc}\n")
                results.append({"preset": preset, "size": size, "error": f"{type(exc).__name__}: {exc}"})
    print("\n## Summary\n")
    rows = []
    for r in results:
        if "error" in r:
            rows.append((r["preset"], f"{r['size']}²", "failed", "-", "-", "-", r["error"].replace("|", "/")))
        else:
            rows.append(
                (
                    r["preset"],
                    f"{r['size']}²",
                    _m(r["frozen"]),
                    _m(r["trainable"]),
                    f"{r['gflops_backbone']:.2f}",
                    f"{r['gflops_rest']:.2f}",
                    f"{r['gflops_total']:.2f}",
                )
            )
    print(
        _md_table(
            ("preset", "input", "frozen params", "trainable params", "GFLOPs backbone", "GFLOPs rest", "GFLOPs total"),
            rows,
        )
    )


if __name__ == "__main__":
    main()
