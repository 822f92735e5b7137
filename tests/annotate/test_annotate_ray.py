"""Shards fanned out on Ray through Prefect's Ray task runner (``flows/annotate.py``) give the same
bytes as the in-process runner, and a resume on Ray redoes only the shards without a commit marker."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import psutil
import pytest

from tests.annotate.outputs import snapshot
from tests.conftest import ROOT, TINY

SETTINGS = [*TINY, "annotate.shard_size=4", "annotate.batch_size=4", "annotate.workers=0"]

pytestmark = pytest.mark.integration


@pytest.fixture
def ray_cluster(monkeypatch):
    """The local Ray cluster the task runner starts (on loopback by the code's default, not patched
    here); shut down whatever happens, and Ray's own switch restored for the tests after."""
    pytest.importorskip("prefect_ray")
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.delenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", raising=False)
    monkeypatch.setattr(ray._private.ray_constants, "ENABLE_RAY_CLUSTER", ray._private.ray_constants.ENABLE_RAY_CLUSTER)
    yield
    ray.shutdown()


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


def listening_addresses() -> set[str]:
    """The addresses that this process's children (the local Ray cluster) listen on."""
    addresses = set()
    for child in psutil.Process().children(recursive=True):
        try:
            connections = child.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        addresses |= {c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN}
    return addresses


def _stamps(out: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "shards").iterdir()}


def test_ray_runner_matches_the_in_process_run_and_resumes_one_shard(
    tiny_project, tiny_checkpoint, tmp_path, monkeypatch, ray_cluster
):
    import torch
    from prefect.testing.utilities import prefect_test_harness
    from prefect_ray import RayTaskRunner

    import flows.annotate
    from flows.annotate import annotate_corpus_flow

    monkeypatch.chdir(tiny_project)
    reference, out = tmp_path / "local", tmp_path / "ray"

    def annotate(into: Path, **kwargs) -> dict:
        return annotate_corpus_flow(
            str(tiny_project / "data/synth/edit"),
            str(into),
            tiny_checkpoint,
            params_path=str(ROOT / "params.yaml"),
            overrides=SETTINGS,
            track=False,
            **kwargs,
        )

    with prefect_test_harness():
        # Ray runs each 1-CPU task with OMP_NUM_THREADS=1, and CPU float sums depend on the thread count (the
        # last digit of a score can differ), so the in-process reference runs with one intra-op thread too.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            annotate(reference, runner="local")
        finally:
            torch.set_num_threads(threads)
        expected = snapshot(reference)
        n_shards = sum(1 for name in expected if name.endswith("done.json"))
        assert n_shards == 4 and any(name.startswith("masks/") for name in expected)

        submitted: list[int] = []
        real_submit = RayTaskRunner.submit

        def counted_submit(self, task, parameters=None, *args, **kwargs):
            submitted.append(parameters["task"].index)
            return real_submit(self, task, parameters, *args, **kwargs)

        monkeypatch.setattr(RayTaskRunner, "submit", counted_submit)
        seen: list[set[str]] = []
        real_markers = flows.annotate.markers_in_order

        def markers_while_the_cluster_is_up(*args, **kwargs):
            seen.append(listening_addresses())
            yield from real_markers(*args, **kwargs)

        monkeypatch.setattr(flows.annotate, "markers_in_order", markers_while_the_cluster_is_up)
        summary = annotate(out, runner="ray", ray_num_cpus=2)
        assert seen and seen[0] and all(map(is_loopback, seen[0])), seen  # nothing reachable from the network
        assert summary["pairs"] == 16
        assert snapshot(out) == expected

        (out / "shards" / "000001.done.json").unlink()
        before = _stamps(out)
        annotate(out, runner="ray", ray_num_cpus=2, resume=True)
        after = _stamps(out)
        assert snapshot(out) == expected
        redone = {name for name in after if after[name] != before.get(name)}
        assert redone == {"000001.annotations.jsonl", "000001.rejects.jsonl", "000001.done.json"}

        # One shard task submitted per shard, plus exactly one for the resumed shard: counted where the
        # dispatch submits them (the API's task runs arrive through events, which a shutting-down
        # temporary cluster can lose). The outputs above, byte for byte, show each shard ran once.
        assert submitted == [*range(n_shards), 1]
