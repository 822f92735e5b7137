"""``annotate.processes``: shards annotated by a pool of worker processes end with the same outputs,
byte for byte, as shards annotated one after the other; a resumed pool run skips committed shards; a
killed run leaves no worker behind and resumes exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
import torch

from sigma.annotate import pool
from sigma.annotate.pool import process_dispatch
from sigma.annotate.run import annotate_corpus
from sigma.data.pairs import read_manifest
from tests.annotate.outputs import copy_edit_corpus, snapshot
from tests.conftest import ROOT, TINY, tiny_params

ANNOTATE = ["annotate.shard_size=5", "annotate.batch_size=4", "annotate.workers=0"]


@pytest.fixture
def one_thread():
    """Both runs single-threaded (the pool gives each worker a share of this process's threads):
    float sums then add up in the same order, so the masks can be compared byte for byte."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_pool_of_processes_writes_what_one_process_writes(
    tiny_project, tmp_path, tiny_checkpoint, one_thread, monkeypatch
):
    pools = []
    monkeypatch.setattr(pool, "process_dispatch", lambda n: pools.append(n) or process_dispatch(n))
    corpus = tmp_path / "corpus"
    pairs = copy_edit_corpus(tiny_project, corpus)
    assert len(pairs) > 10  # three shards or more: two run at once
    alone, pooled = tmp_path / "alone", tmp_path / "pooled"
    annotate_corpus(tiny_params(*ANNOTATE), str(corpus), str(alone), tiny_checkpoint, track=False)
    params = tiny_params(*ANNOTATE, "annotate.processes=2")
    summary = annotate_corpus(params, str(corpus), str(pooled), tiny_checkpoint, track=False)
    assert summary["pairs_this_run"] == len(pairs) and summary["pairs_per_second"] > 0
    assert snapshot(pooled) == snapshot(alone)
    assert pools == [2]

    resumed = annotate_corpus(params, str(corpus), str(pooled), tiny_checkpoint, resume=True, track=False)
    assert resumed["pairs_this_run"] == 0 and resumed["pairs_per_second"] is None
    assert snapshot(pooled) == snapshot(alone)


@pytest.mark.slow
def test_a_killed_pool_run_leaves_no_workers_and_resumes_exactly_once(tiny_project, tiny_checkpoint, tmp_path):
    corpus, out, hold_file = tiny_project / "data/synth/edit", tmp_path / "out", tmp_path / "held"
    # Shards of 2: more shards than the pool keeps in flight, so the corpus stream (and its id index)
    # is still open when the run is killed.
    settings = [*TINY, *ANNOTATE, "annotate.shard_size=2", "annotate.processes=2"]
    sets = [arg for item in settings for arg in ("--set", item)]
    command = [sys.executable, "-m", "sigma.cli", "annotate", str(corpus), str(out), "--model", tiny_checkpoint]
    command += ["--no-track", "--params", str(ROOT / "params.yaml"), *sets]
    # A worker blocks before committing shard 1 (sigma.annotate.shard.hold_for_test) until the kill.
    temp = tmp_path / "temp"  # the runs' system temp folder: a killed run must leave nothing there
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "SQLITE_TMPDIR": str(temp)}
    held = env | {"SIGMA_TEST_HOLD": "before-commit:1", "SIGMA_TEST_HOLD_FILE": str(hold_file)}
    log = tmp_path / "run.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, cwd=tiny_project, env=held, stdout=sink, stderr=subprocess.STDOUT)
    hang_guard = time.monotonic() + 600  # only against a hung run: the hold itself waits for us
    try:
        while not hold_file.exists():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < hang_guard, "no worker reached the hold"
            time.sleep(0.01)
        workers = psutil.Process(proc.pid).children(recursive=True)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert len(workers) >= 2
    _, alive = psutil.wait_procs(workers, timeout=60)  # the kernel kills them with the driver, at once
    assert alive == []
    # The other worker may die mid-write: its temp file is a partial write, not a committed output.
    shard_files = [p for p in (out / "shards").glob("*") if p.is_file()]
    committed = {p.name: p.read_bytes() for p in shard_files if not p.name.endswith(".tmp")}
    assert "000001.done.json" not in committed

    assert [p.name for p in temp.rglob("*") if p.is_file()] == []
    resumed = subprocess.run([*command, "--resume"], cwd=tiny_project, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert {name: (out / "shards" / name).read_bytes() for name in committed} == committed
    assert not list((out / "shards").glob(".*.tmp"))  # the resume cleared the partial writes
    assert [p.name for p in temp.rglob("*") if p.is_file()] == []
    ids = [json.loads(line)["id"] for line in (out / "annotations.jsonl").read_text().splitlines()]
    assert sorted(ids) == sorted(p.id for p in read_manifest(str(corpus)))
