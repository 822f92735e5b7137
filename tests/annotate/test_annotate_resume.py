"""Exactly once: real `sigma annotate` runs killed with SIGKILL at chosen points, then resumed, end
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

    # The kill points come from a test hook in the run (sigma.annotate.shard.hold_for_test): the run
    # blocks exactly there until killed, so the kill never races the clock, however loaded the machine.
    rng = random.Random(0)
    points = [
        ("before-commit", rng.randrange(1, n_shards - 1)),
        ("after-commit", rng.randrange(0, n_shards - 2)),
        ("before-commit", 0),
    ]
    for attempt, (point, shard) in enumerate(points):
        out = tmp_path / f"killed-{attempt}"
        hold_file = tmp_path / f"held-{attempt}"
        held_env = {**env, "SIGMA_TEST_HOLD": f"{point}:{shard}", "SIGMA_TEST_HOLD_FILE": str(hold_file)}
        proc = subprocess.Popen(
            _command(corpus, out, tiny_checkpoint),
            cwd=tiny_project,
            env=held_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        hang_guard = time.monotonic() + 600  # only against a hung run: the kill point itself waits for us
        try:
            while not hold_file.exists():
                assert proc.poll() is None, "the run ended without reaching its kill point"
                assert time.monotonic() < hang_guard, "the run never reached its kill point"
                time.sleep(0.01)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        committed = len(list((out / "shards").glob("*.done.json")))
        assert committed == shard + (point == "after-commit")
        assert not (out / "annotations.jsonl").exists()

        resumed = subprocess.run(
            _command(corpus, out, tiny_checkpoint, "--resume"),
            cwd=tiny_project,
            env=env,
            capture_output=True,
            text=True,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert snapshot(out) == expected, f"attempt {attempt}: killed at {point} of shard {shard}"
        ids = [json.loads(line)["id"] for line in (out / "annotations.jsonl").read_text().splitlines()]
        assert len(ids) == len(set(ids))
