"""Corpus-annotation throughput: pairs/s and peak memory of `sigma annotate`'s whole I/O path
(decode in DataLoader workers, batched inference, PNG encoding and writing, shard commits, final
merge) for SIGMA configurations and, through the very same path, the PixDiff-Otsu baseline.
A measurement, not a test.

Each configuration runs in a fresh subprocess (its own peak RSS; with ``--processes`` above 1, the
largest of its annotation workers'). pairs/s divides the pairs by the time from the first shard's start
to the last shard's end (model loading and the final merge excluded; the wall time is printed too).
With several processes (``annotate.processes``, default 2 here as in params.yaml) shards run at once,
so the corpus needs several shards: ``--shard-size`` defaults to 128. Without ``--corpus`` a
corpus of ``--pairs`` synthetic pairs of ``--image-size`` (default 640×480) is generated first (photos from
scikit-image with a pasted, recoloured patch), so the script needs no data of the project.

Weights: ``--checkpoint`` times a trained model (what a corpus run meets: the logit rules act on
its real predictions); without it, the offline preset uses its packaged backbone when installed, random
weights otherwise;
the offline preset keeps its learned grounder (its trained head from ``models/grounder.safetensors``
when present), so grounding is timed; the paper preset uses random weights with grounder ``none``
(LangSAM weights are not available offline); weights do not change the arithmetic.

Examples::

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_annotate.py                      # offline on CPU + PixDiff
    HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_annotate.py --pairs 1024 --processes 1 --processes 2
    python3 scripts/bench_annotate.py --device cuda --preset sigma_paper --image-size 518 --batch 64 --workers 8
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# Every action the parser knows, so that parsing and grounding are timed as on a real corpus.
INSTRUCTIONS = (
    "remove the person",
    "replace the cup with a bowl",
    "add a red ball on the table",
    "change the cat to a dog",
    "make the whole picture look like winter",
    "turn the shirt blue",
)


def image_size(text: str) -> tuple[int, int]:
    """``"640x480"`` → (640, 480); ``"256"`` → (256, 256)."""
    width, _, height = text.lower().partition("x")
    return int(width), int(height or width)


def make_corpus(folder: Path, n_pairs: int, size: tuple[int, int], fmt: str = "png") -> str:
    """``n_pairs`` (original, edited) pairs of ``size`` (w, h) with a recoloured square, as a pair
    folder of ``fmt`` files (png, or jpg at quality 95: decoding is a large share of the time)."""
    import io

    import numpy as np
    from PIL import Image
    from skimage import data as samples

    from sigma.data.images import encode_png

    photos = [
        np.asarray(Image.fromarray(getattr(samples, name)()).convert("RGB").resize(size))
        for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")
    ]
    rng = np.random.default_rng(0)
    (folder / "images").mkdir(parents=True)
    lines = []
    for i in range(n_pairs):
        original = photos[i % len(photos)]
        edited = original.copy()
        s = min(size) // 4
        y, x = rng.integers(0, size[1] // 2), rng.integers(0, size[0] // 2)
        edited[y : y + s, x : x + s] = 255 - edited[y : y + s, x : x + s]
        noise = rng.normal(0, 2, edited.shape)
        edited = np.clip(edited + noise, 0, 255).astype(np.uint8)
        for tag, image in (("o", original), ("e", edited)):
            if fmt == "png":
                data = encode_png(image)
            else:
                buf = io.BytesIO()
                Image.fromarray(image).save(buf, format="JPEG", quality=95)
                data = buf.getvalue()
            (folder / "images" / f"{i:06d}_{tag}.{fmt}").write_bytes(data)
        lines.append(
            json.dumps(
                {
                    "id": f"bench-{i:06d}",
                    "original": f"images/{i:06d}_o.{fmt}",
                    "edited": f"images/{i:06d}_e.{fmt}",
                    "instruction": INSTRUCTIONS[i % len(INSTRUCTIONS)],
                }
            )
        )
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return str(folder)


def child(config: dict) -> dict:
    """One configuration, in this (fresh) process."""
    import torch

    import sigma.annotate.run as run
    from sigma.config import load_params
    from sigma.model.build import PRESETS, build_sigma
    from sigma.model.checkpoint import save_checkpoint

    tmp = Path(config["tmp"])
    overrides = [
        f"annotate.batch_size={config['batch']}",
        f"annotate.workers={config['workers']}",
        f"annotate.shard_size={config['shard_size']}",
        f"annotate.processes={config['processes']}",
    ]
    params = load_params(ROOT / "params.yaml", overrides)
    if config.get("checkpoint"):  # a trained model: the logit rules and the grounder act on real predictions
        model_path = Path(config["checkpoint"])
    elif config["method"] == "pixdiff":
        model_path = "method:pixdiff_otsu"  # the baseline annotates through the same path (sigma.annotate.methods)
    else:
        preset = PRESETS[config["method"]]
        preset = preset.model_copy(
            update={
                "backbone": preset.backbone.model_copy(
                    update={
                        "input_size": config["input_size"],
                        **({"chunk": None} if config["device"] == "cuda" else {}),
                    }
                )
            }
        )
        no_grounder = preset.model_copy(update={"grounder": preset.grounder.model_copy(update={"name": "none"})})
        try:  # the offline preset as shipped: packaged backbone, learned grounder (trained head when present)
            if config["method"] != "sigma_offline":
                raise ImportError("the paper's LangSAM weights are not available offline")
            model = build_sigma(preset, load_grounder=Path(preset.grounder.weights).exists())
        except (FileNotFoundError, ImportError, OSError, ValueError):
            model = build_sigma(no_grounder, pretrained=False)
        config["grounder"] = model.config.grounder.name
        model_path = save_checkpoint(model, tmp / f"{config['method']}.safetensors", include_pretrained=True)
    if config["device"] == "cuda" and config["method"] != "pixdiff":
        from sigma.model.checkpoint import load_checkpoint

        run.load_for_run = lambda _model: load_checkpoint(model_path, device="cuda").eval()
    out = tmp / f"out-{config['name']}"
    start = time.perf_counter()
    summary = run.annotate_corpus(params, config["corpus"], str(out), str(model_path), track=False)
    result = {
        **config,
        "pairs_per_second": summary["pairs_per_second"],
        "pairs": summary["pairs"],
        "shard_seconds": summary["shard_seconds"],
        "wall_seconds": round(time.perf_counter() - start, 2),
        "peak_rss_mib": round(
            max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
        ),
        "rejected": summary["rejected"],
    }
    if torch.cuda.is_available() and config["device"] == "cuda":
        result["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", help="pair folder to annotate (default: generate one)")
    parser.add_argument("--pairs", type=int, default=256, help="generated corpus size")
    parser.add_argument(
        "--image-size",
        type=image_size,
        default="640x480",
        help="generated pair size, WxH or one side (default 640x480, the issue's target)",
    )
    parser.add_argument("--format", default="png", choices=["png", "jpg"], help="generated image files")
    parser.add_argument("--preset", action="append", help="sigma_offline (default) / sigma_paper")
    parser.add_argument("--input-size", type=int, help="model input side (default: 256 offline, 518 paper)")
    parser.add_argument("--batch", type=int, action="append", help="annotate.batch_size (default 16)")
    parser.add_argument("--workers", type=int, action="append", help="annotate.workers (default 0)")
    parser.add_argument("--processes", type=int, action="append", help="annotate.processes (default 2)")
    parser.add_argument(
        "--shard-size", type=int, default=128, help="pairs per shard: several shards, so that processes run at once"
    )
    parser.add_argument("--checkpoint", help="a trained SIGMA checkpoint to time instead of the preset's weights")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--no-pixdiff", action="store_true", help="skip the PixDiff-Otsu baseline")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(json.loads(args.child))), flush=True)
        return
    from rich.console import Console
    from rich.table import Table

    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus or make_corpus(Path(tmp) / "corpus", args.pairs, args.image_size, args.format)
        methods = (args.preset or ["sigma_offline"]) + ([] if args.no_pixdiff else ["pixdiff"])
        results = []
        grid = itertools.product(methods, args.batch or [16], args.workers or [0], args.processes or [2])
        for method, batch, workers, processes in grid:
            if method == "pixdiff" or args.device == "cuda":
                processes = 1  # their loaders are patched into the child, which spawned workers would not see
            input_size = args.input_size or (518 if method == "sigma_paper" else 256)
            name = f"{method}-b{batch}-w{workers}-p{processes}"
            if any(r["name"] == name for r in results):
                continue
            config = {
                "name": name,
                "method": method,
                "checkpoint": None if method == "pixdiff" else args.checkpoint,
                "batch": batch,
                "workers": workers,
                "processes": processes,
                "device": args.device,
                "input_size": input_size,
                "shard_size": args.shard_size,
                "corpus": corpus,
                "tmp": tmp,
            }
            proc = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(config)],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": f"{ROOT}:{os.environ.get('PYTHONPATH', '')}"},
            )
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
            result = json.loads(line[7:]) if line else {**config, "error": proc.stderr[-800:]}
            results.append(result)
            print(json.dumps({k: v for k, v in result.items() if k not in ("corpus", "tmp")}), flush=True)
    table = Table(title=f"sigma annotate throughput ({args.device}, {os.cpu_count()} CPUs)")
    for column in (
        "method",
        "grounder",
        "input",
        "batch",
        "workers",
        "processes",
        "pairs",
        "pairs/s",
        "shard s",
        "wall s",
        "peak RSS MiB",
        "peak CUDA MiB",
    ):
        table.add_column(column)
    for r in results:
        table.add_row(
            r["method"],
            r.get("grounder", "-"),
            str(r["input_size"]),
            str(r["batch"]),
            str(r["workers"]),
            str(r["processes"]),
            str(r.get("pairs", "-")),
            str(r.get("pairs_per_second", r.get("error", "")[:60])),
            str(r.get("shard_seconds", "-")),
            str(r.get("wall_seconds", "-")),
            str(r.get("peak_rss_mib", "-")),
            str(r.get("peak_cuda_mib", "-")),
        )
    Console().print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
