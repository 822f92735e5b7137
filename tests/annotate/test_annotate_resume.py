"""Exactly once: real `sigma annotate` runs killed with SIGKILL at random points, then resumed, end
with the same outputs as an uninterrupted run (same ids, same mask bytes, no duplicates, no orphans)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.annotate.outputs import snapshot
from tests.conftest import ROOT, TINY

SETTINGS = [*TINY, "annotate.shard_size=1", "annotate.batch_size=1", "annotate.workers=0"]


def _command(corpus: Path, out: Path, model: str, *extra: str) -> list[str]:
    sets = [arg for item in SETTINGS for arg in ("--set", item)]
    return [
        sys.executable,
        "-m",
        "sigma.cli",
        "annotate",
        str(corpus),
        str(out),
        "--model",
        model,
        "--no-track",
        "--params",
        str(ROOT / "params.yaml"),
        *sets,
        *extra,
    ]


@pytest.mark.slow
def test_killed_runs_resume_to_the_uninterrupted_result(tiny_project, tiny_checkpoint, tmp_path):
    corpus = tiny_project / "data/synth/edit"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    reference = tmp_path / "reference"
    subprocess.run(
        _command(corpus, reference, tiny_checkpoint), check=True, cwd=tiny_project, env=env, capture_output=True
    )
    expected = snapshot(reference)
    n_shards = sum(1 for name in expected if name.endswith("done.json"))
    assert n_shards >= 8
    per_shard = json.loads((reference / "summary.json").read_text())["shard_seconds"] / n_shards

    rng = random.Random(0)
    for attempt in range(3):
        out = tmp_path / f"killed-{attempt}"
        kill_after = rng.randrange(1, n_shards - 3)  # committed shards before the kill...
        extra_delay = rng.uniform(0.0, per_shard)  # ...plus a random moment inside the next one
        proc = subprocess.Popen(
            _command(corpus, out, tiny_checkpoint),
            cwd=tiny_project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while len(list((out / "shards").glob("*.done.json"))) < kill_after and proc.poll() is None:
            assert time.monotonic() < deadline, "the run made no progress"
            time.sleep(0.002)
        time.sleep(extra_delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        committed = len(list((out / "shards").glob("*.done.json")))
        assert committed < n_shards, "killed too late: the run had finished"
        assert not (out / "annotations.jsonl").exists()

        resumed = subprocess.run(
            _command(corpus, out, tiny_checkpoint, "--resume"),
            cwd=tiny_project,
            env=env,
            capture_output=True,
            text=True,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert snapshot(out) == expected, f"attempt {attempt}: killed after {committed} shards"
        ids = [json.loads(line)["id"] for line in (out / "annotations.jsonl").read_text().splitlines()]
        assert len(ids) == len(set(ids))
