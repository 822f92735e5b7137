"""Methods trained with several seeds, side by side on one benchmark: F1 % per group as the mean over
the seeds with its spread (max - min), and the first recipe's lead over the second, marked ``*``
where it exceeds both spreads. Reads one ``sigma evaluate --out`` JSON in which each seed's
checkpoint is its own pinned method (``sigma@path``).

Example (the note's per-kind table)::

    sigma evaluate coco_dev --no-track --out /tmp/eval.json \\
        --method sigma@models/stage2/sigma.safetensors --method sigma@/tmp/seed1/stage2/sigma.safetensors \\
        --method siamese_cd@models/cd/sigma.safetensors --method siamese_cd@/tmp/seed1/cd/sigma.safetensors \\
        --method pixdiff_morph
    .venv/bin/python scripts/seed_table.py /tmp/eval.json coco_dev \\
        --recipe SIGMA=sigma@models/stage2/sigma.safetensors,sigma@/tmp/seed1/stage2/sigma.safetensors \\
        --recipe Siamese-CD=siamese_cd@models/cd/sigma.safetensors,siamese_cd@/tmp/seed1/cd/sigma.safetensors \\
        --recipe PixDiff-morph=pixdiff_morph
"""

from __future__ import annotations

import argparse
import json

from sigma.eval.seeds import compare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics", help="a `sigma evaluate --out` JSON")
    parser.add_argument("benchmark", help="one of its benchmarks, e.g. coco_dev")
    parser.add_argument(
        "--recipe", action="append", required=True, help="NAME=METHOD[,METHOD...]: one method per seed (repeatable)"
    )
    parser.add_argument("--groups", default="", help="only groups starting with one of these comma-separated prefixes")
    args = parser.parse_args()
    with open(args.metrics) as f:
        by_method = json.load(f)[args.benchmark]
    recipes = {}
    for spec in args.recipe:
        name, _, runs = spec.partition("=")
        missing = [r for r in runs.split(",") if r not in by_method]
        if missing:
            parser.error(f"{missing} not in {args.metrics} ({args.benchmark}); it has {sorted(by_method)}")
        recipes[name] = runs.split(",")
    names = list(recipes)
    frame = compare(by_method, recipes, lead=(names[0], names[1]) if len(names) > 1 else None)
    if args.groups:
        keep = tuple(args.groups.split(","))
        frame = frame[[g == "all" or g.startswith(keep) for g in frame.index]]
    print(frame.to_markdown())


if __name__ == "__main__":
    main()
