"""Shards fanned out on Ray through Prefect's Ray task runner (``flows/annotate.py``) give the same
bytes as the in-process runner, and a resume on Ray redoes only the shards without a commit marker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, TINY, tiny_params

SETTINGS = [*TINY, "annotate.shard_size=4", "annotate.batch_size=4", "annotate.workers=0"]
TIMING_FIELDS = {"seconds", "skipped"}

pytestmark = pytest.mark.integration


@pytest.fixture
def ray_cluster(monkeypatch):
    """Ray on loopback with 2 CPU workers, started by the task runner; shut down whatever happens."""
    pytest.importorskip("prefect_ray")
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    yield
    ray.shutdown()


def _snapshot(out: Path) -> dict[str, object]:
    """Every output file's content, with run-specific parts (timings, the OUT path) normalised."""
    files = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = str(path.relative_to(out))
        if rel == "summary.json":
            summary = json.loads(path.read_text())
            files[rel] = {k: v for k, v in summary.items() if "seconds" not in k and k != "pairs_per_second"}
        elif rel.endswith("done.json"):
            files[rel] = {k: v for k, v in json.loads(path.read_text()).items() if k not in TIMING_FIELDS}
        elif rel == "area_histogram.png":
            files[rel] = "png"
        else:
            files[rel] = path.read_bytes().replace(str(out).encode(), b"OUT")
    return files


def _stamps(out: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "shards").iterdir()}


def test_ray_runner_matches_the_in_process_run_and_resumes_one_shard(tiny_project, tiny_checkpoint, tmp_path,
                                                                    monkeypatch, ray_cluster):
    from prefect.client.orchestration import get_client
    from prefect.testing.utilities import prefect_test_harness

    from flows.annotate import annotate_corpus_flow
    from sigma.annotate.run import annotate_corpus

    monkeypatch.chdir(tiny_project)
    corpus = str(tiny_project / "data/synth/edit")
    reference, out = tmp_path / "local", tmp_path / "ray"
    annotate_corpus(tiny_params(*SETTINGS), corpus, str(reference), tiny_checkpoint, track=False)
    expected = _snapshot(reference)
    n_shards = sum(1 for name in expected if name.endswith("done.json"))
    assert n_shards == 4 and any(name.startswith("masks/") for name in expected)

    def on_ray(**kwargs) -> dict:
        return annotate_corpus_flow(corpus, str(out), tiny_checkpoint, runner="ray", ray_num_cpus=2,
                                    params_path=str(ROOT / "params.yaml"), overrides=SETTINGS, track=False, **kwargs)

    with prefect_test_harness():
        summary = on_ray()
        assert summary["pairs"] == 16
        assert _snapshot(out) == expected

        (out / "shards" / "000001.done.json").unlink()
        before = _stamps(out)
        on_ray(resume=True)
        after = _stamps(out)
        assert _snapshot(out) == expected
        redone = {name for name in after if after[name] != before.get(name)}
        assert redone == {"000001.annotations.jsonl", "000001.rejects.jsonl", "000001.done.json"}

        with get_client(sync_client=True) as client:
            runs = [r for r in client.read_task_runs() if r.name.startswith("annotate_shard")]
        assert len(runs) == 2 * n_shards and all(r.state.is_completed() for r in runs)
