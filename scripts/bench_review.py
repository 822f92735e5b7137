"""Page load times of `sigma review` on a large annotation run (default 100k annotations).

Writes a synthetic OUT: N records in ``annotations.jsonl`` that share a few real images and masks (the
index and the pages do not care how many files there are), then measures, through the app:
the cold index build, the warm start (index reused from the cache), the grid's HTML at the first, a
middle and the last page, a filtered page, a detail page, a decision, and page 1 with all its
thumbnails (what a browser loads). Prints a table; nothing is asserted.

    python scripts/bench_review.py [--annotations 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def write_out(root: Path, n: int) -> Path:
    out = root / "out"
    (out / "masks").mkdir(parents=True)
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)).save(images / f"{i}_o.png")
        Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)).save(images / f"{i}_e.png")
        mask = np.zeros((480, 640), np.uint8)
        mask[100 + 10 * i : 300, 200 : 400 + 10 * i] = 255
        Image.fromarray(mask).save(out / "masks" / f"{i}.png")
    random.seed(0)
    kinds = ["add", "remove", "replace", "attribute_change", "global"]
    with open(out / "annotations.jsonl", "w") as fh:
        for k in range(n):
            i = k % 8
            record = {
                "id": f"pair-{k:07d}",
                "original": str(images / f"{i}_o.png"),
                "edited": str(images / f"{i}_e.png"),
                "instruction": f"make the object number {k} red",
                "edit_type": kinds[k % 5],
                "split": "train",
                "parsed": {"original": "an object", "edited": "a red object", "action": kinds[k % 5]},
                "mask": f"masks/{i}.png",
                "mask_side": None,
                "area": round(random.random() * 0.3, 6),
                "side_area": 0.0,
                "score": round(random.random(), 6),
                "height": 480,
                "width": 640,
                "model_uri": "models:/sigma-annotator@champion",
                "model_version": "sha256:0123456789abcdef",
                "shard": k // 1000,
            }
            fh.write(json.dumps(record) + "\n")
    return out


def timed(fn, repeat: int) -> float:
    """Median milliseconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotations", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        from sigma.review.app import create_app

        start = time.perf_counter()
        out = write_out(Path(tmp), args.annotations)
        print(f"wrote {args.annotations} annotations in {time.perf_counter() - start:.1f} s")

        start = time.perf_counter()
        create_app(str(out))
        cold = time.perf_counter() - start
        start = time.perf_counter()
        client = TestClient(create_app(str(out)))
        warm = time.perf_counter() - start
        last_page = -(-args.annotations // 48)

        def check(url: str):
            def get():
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code, response.text[:300])

            return get

        def page_with_thumbnails():
            html = client.get("/").text
            for row in sorted({int(part.split("/")[0]) for part in html.split('src="/picture/')[1:]}):
                for kind in ("original", "edited", "overlay"):
                    client.get(f"/picture/{row}/{kind}?max_side=256")

        ids = [f"pair-{k:07d}" for k in range(0, args.annotations, max(1, args.annotations // 50))]
        rows = [
            ("start: index build (cold, once per annotations.jsonl)", cold * 1000),
            ("start: index reused from the cache", warm * 1000),
            ("grid HTML, page 1 (worst confidence first)", timed(check("/"), args.repeat)),
            (f"grid HTML, page {last_page // 2}", timed(check(f"/?page={last_page // 2}"), args.repeat)),
            (f"grid HTML, page {last_page} (last)", timed(check(f"/?page={last_page}"), args.repeat)),
            (
                "grid HTML, filtered (edit type + unreviewed + confidence)",
                timed(check("/?edit_type=remove&state=unreviewed&min_conf=0.2&max_conf=0.5"), args.repeat),
            ),
            ("grid HTML sorted by area, descending", timed(check("/?sort=area&order=desc"), args.repeat)),
            (
                f"detail page, position {args.annotations // 2}",
                timed(check(f"/detail?pos={args.annotations // 2}"), args.repeat),
            ),
            (
                "a decision (POST, fsync'd append)",
                timed(
                    lambda: client.post("/api/decisions", json={"id": random.choice(ids), "decision": "accept"}),
                    args.repeat,
                ),
            ),
            ("page 1 with its 144 thumbnails (640x480 -> 256)", timed(page_with_thumbnails, 1)),
        ]
    width = max(len(name) for name, _ in rows)
    print(f"\n{args.annotations} annotations, median of {args.repeat} (ms):")
    for name, ms in rows:
        print(f"  {name:<{width}}  {ms:9.1f}")


if __name__ == "__main__":
    main()
