"""``annotate.processes``: shards annotated by a pool of worker processes end with the same outputs,
byte for byte, as shards annotated one after the other, and a resumed pool run skips committed shards."""

from __future__ import annotations

import pytest
import torch

from sigma.annotate import pool
from sigma.annotate.pool import process_dispatch
from sigma.annotate.run import annotate_corpus
from tests.annotate.outputs import copy_edit_corpus, snapshot
from tests.conftest import tiny_params

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
