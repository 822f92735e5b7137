"""The tiled second pass (``model.tiles``) and the small-region rule's confidence test
(``model.postprocess.min_region_keep_prob``) on and off, for given checkpoints, on one benchmark:
F1 % per group, false positives on the unchanged pairs and seconds per pair. A measurement, not a
test: it prints one table.

Example (the figures docs/evaluation.md quotes)::

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/probe_tiles.py data/synth/dev_large \\
        models/stage2/sigma.safetensors /tmp/seed1/stage2/sigma.safetensors
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from sigma.config import BenchmarkSpec, TileParams
from sigma.eval.benchmarks import iter_benchmark
from sigma.eval.evaluate import evaluate
from sigma.eval.methods.sigma_model import SigmaMethod
from sigma.model.pyfunc import load_annotator

VARIANTS = {  # name -> (model.tiles, model.postprocess.min_region_keep_prob)
    "off": (TileParams(min_side=None), 0.9),
    "max": (TileParams(combine="max"), 0.9),
    "tiles": (TileParams(combine="tiles"), 0.9),
    "off-area": (TileParams(min_side=None), None),  # small regions dropped by area alone
    "max-area": (TileParams(combine="max"), None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", help="a pair-format folder, e.g. data/synth/dev_large")
    parser.add_argument("checkpoints", nargs="+", help="checkpoints (one per seed) or models:/ URIs")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {list(VARIANTS)}")
    parser.add_argument("--groups", default="drift/light,drift/heavy,area/small", help="groups to print besides all")
    args = parser.parse_args()
    pairs = list(iter_benchmark(BenchmarkSpec(name="probe", path=args.benchmark)))
    rows = []
    for checkpoint in args.checkpoints:
        model = load_annotator(checkpoint)
        for name in args.variants.split(","):
            tiles, keep = VARIANTS[name]
            postprocess = model.config.postprocess.model_copy(update={"min_region_keep_prob": keep})
            model.config = model.config.model_copy(update={"tiles": tiles, "postprocess": postprocess})
            started = time.perf_counter()
            result = evaluate(SigmaMethod("sigma", model), pairs, total=len(pairs), description=f"{name}")
            seconds = (time.perf_counter() - started) / len(pairs)
            row = {"checkpoint": checkpoint, "tiles": name, "s/pair": round(seconds, 2)}
            row["all"] = round(100 * result.summary["f1"], 2)
            row["FP %"] = round(100 * result.summary.get("clean_fp_rate", float("nan")), 3)
            for group in args.groups.split(","):
                row[group] = round(100 * result.groups.get(group, {}).get("f1", float("nan")), 2)
            rows.append(row)
            print(row, flush=True)
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
