"""Peak memory of `sigma annotate` as the corpus grows: annotate N tiny pairs for each N and print
the peak RSS, which must stay flat (the corpus streams, shards commit, the duplicate-id index is on
disk). A measurement, not a test.

The model is a tiny config (input 64, untrained, packaged backbone) so that 20k pairs take
minutes: the model's own memory is the same at any N, and the run's bookkeeping is what grows if
anything does. Each N runs in a fresh subprocess (its own peak RSS).

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_memory.py --pairs 1000 --pairs 20000
"""

from __future__ import annotations

import argparse
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
TINY_MODEL = [
    "model.backbone.input_size=64",
    "model.dim=16",
    "model.heads=2",
    "model.decoder_dim=8",
    "model.grounder.name=none",
    "model.refine.dim=8",
    "model.refine.max_side=32",
]


def make_corpus(folder: Path, n_pairs: int) -> None:
    """``n_pairs`` pairs of two shared 32x32 images (distinct ids): the run's records, not the
    image files, are what scales."""
    import numpy as np

    from sigma.data.images import encode_png

    rng = np.random.default_rng(0)
    original = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    edited = original.copy()
    edited[8:20, 8:20] = 255 - edited[8:20, 8:20]
    folder.mkdir(parents=True)
    (folder / "o.png").write_bytes(encode_png(original))
    (folder / "e.png").write_bytes(encode_png(edited))
    with open(folder / "manifest.jsonl", "w") as fh:
        for i in range(n_pairs):
            fh.write(
                json.dumps(
                    {"id": f"pair-{i:08d}", "original": "o.png", "edited": "e.png", "instruction": "remove the square"}
                )
                + "\n"
            )


def child(corpus: str, out: str, model: str) -> None:
    import sigma.annotate.run as run
    from sigma.config import load_params

    params = load_params(ROOT / "params.yaml", [*TINY_MODEL, "annotate.shard_size=1000", "annotate.batch_size=32"])
    start = time.perf_counter()
    summary = run.annotate_corpus(params, corpus, out, model, track=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        "RESULT "
        + json.dumps(
            {
                "pairs": summary["pairs"],
                "annotated": summary["annotated"],
                "seconds": round(time.perf_counter() - start, 1),
                "peak_rss_mib": round(peak),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, action="append", help="corpus sizes (default 1000 and 20000)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    import torch

    from sigma.config import load_params
    from sigma.model.build import build_sigma
    from sigma.model.checkpoint import save_checkpoint

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        params = load_params(ROOT / "params.yaml", TINY_MODEL)
        model = str(save_checkpoint(build_sigma(params.model, params.parse), Path(tmp) / "tiny.safetensors"))
        for n in args.pairs or [1000, 20000]:
            corpus = Path(tmp) / f"corpus-{n}"
            make_corpus(corpus, n)
            proc = subprocess.run(
                [sys.executable, __file__, "--child", str(corpus), str(Path(tmp) / f"out-{n}"), model],
                capture_output=True,
                text=True,
            )
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
            result = json.loads(line[7:]) if line else {"pairs": n, "error": proc.stderr[-800:]}
            results.append(result)
            print(json.dumps(result), flush=True)
    ok = [r for r in results if "peak_rss_mib" in r]
    if len(ok) > 1:
        lo, hi = min(r["peak_rss_mib"] for r in ok), max(r["peak_rss_mib"] for r in ok)
        print(f"peak RSS {lo}-{hi} MiB: {100 * (hi - lo) / lo:.1f}% apart")


if __name__ == "__main__":
    main()
