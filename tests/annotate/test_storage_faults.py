"""Storage that fails under a corpus run: an S3 endpoint answering 500/503 SlowDown (moto behind a
botocore hook that fails chosen requests), a local OUT that fills up or turns read-only.

Transient S3 errors are retried with backoff and change nothing. A fault that stays stops the run
with a message that names it and says to ``--resume``; the committed shards stay as they are, and the
resumed run's outputs are byte-identical to an uninterrupted run's. Faults start at a chosen commit
(the marker of shard 1), never at a time, so the tests are deterministic.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from typer.testing import CliRunner

from sigma.annotate.run import annotate_corpus
from sigma.cli import app
from sigma.data import storage
from tests.annotate.outputs import snapshot
from tests.conftest import tiny_params
from tests.s3_fixtures import moto_s3  # noqa: F401  (fixture)

# One process: the injected faults hook this process's S3 client.
ANNOTATE = [
    "annotate.shard_size=4",
    "annotate.batch_size=4",
    "annotate.workers=0",
    "annotate.write_threads=1",
    "annotate.processes=1",
]
ERRORS = {503: "SlowDown", 500: "InternalError"}


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **_):
        yield self.data


class FailingEndpoint:
    """Answers chosen S3 requests with a 5xx error before they reach moto (botocore ``before-send``)."""

    def __init__(self, should_fail: Callable[[str, str], int | None]):
        self.should_fail, self.failed = should_fail, 0

    def __call__(self, request, **_):
        status = self.should_fail(request.method, request.url)
        if status is None:
            return None
        self.failed += 1
        body = f"<Error><Code>{ERRORS[status]}</Code><Message>injected</Message></Error>".encode()
        return AWSResponse(request.url, status, {"Content-Type": "application/xml"}, _Body(body))

    def __enter__(self):
        storage.s3_client().meta.events.register_first("before-send.s3", self)
        return self

    def __exit__(self, *exc):
        storage.s3_client().meta.events.unregister("before-send.s3", self)


def _s3_snapshot(client, bucket: str, prefix: str) -> dict[str, bytes]:
    keys = [
        o["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    ]
    return {k[len(prefix) :]: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in sorted(keys)}


@pytest.fixture
def s3_run(moto_s3, tiny_project, tiny_checkpoint, monkeypatch):  # noqa: F811
    """A bucket, an uninterrupted run's outputs under ``whole/``; returns (client, run, whole)."""
    monkeypatch.chdir(tiny_project)
    client = boto3.client("s3", endpoint_url=moto_s3)
    client.create_bucket(Bucket="out")
    params = tiny_params(*ANNOTATE)
    corpus = str(tiny_project / "data/synth/edit")

    def run(prefix: str, resume: bool = False) -> dict:
        return annotate_corpus(params, corpus, f"s3://out/{prefix}", tiny_checkpoint, resume=resume, track=False)

    run("whole")
    return client, run, _s3_snapshot(client, "out", "whole/")


@pytest.mark.integration
def test_transient_s3_errors_are_retried_and_change_nothing(s3_run):
    client, run, whole = s3_run
    attempts: dict[str, int] = {}

    def first_two_attempts_of_each_commit(method: str, url: str) -> int | None:
        if method != "PUT" or not url.endswith(".done.json"):
            return None
        attempts[url] = attempts.get(url, 0) + 1
        return {1: 503, 2: 500}.get(attempts[url])

    with FailingEndpoint(first_two_attempts_of_each_commit) as endpoint:
        summary = run("flaky")
    assert endpoint.failed == 2 * summary["shards"] > 0
    assert _s3_snapshot(client, "out", "flaky/") == whole


@pytest.mark.integration
def test_an_s3_endpoint_that_stays_down_stops_the_run_and_resume_completes_it(s3_run, tiny_project, tiny_checkpoint):
    client, run, whole = s3_run
    down = False

    def down_after_shard_1_commits(method: str, url: str) -> int | None:
        nonlocal down
        if down:
            return 503
        down = method == "PUT" and url.endswith("/down/shards/000001.done.json")
        return None

    args = [str(tiny_project / "data/synth/edit"), "s3://out/down", "--model", tiny_checkpoint]
    with FailingEndpoint(down_after_shard_1_commits):
        result = CliRunner().invoke(app, ["annotate", *args, "--no-track", *(f"--set={o}" for o in ANNOTATE)])
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert "S3 error SlowDown (HTTP 503)" in message and "attempts with backoff" in message
    assert "2 shard(s) of this run are committed" in message and "--resume" in message
    committed = _s3_snapshot(client, "out", "down/shards/")
    assert {"000000.done.json", "000001.done.json"} <= committed.keys()
    assert "000002.done.json" not in committed

    run("down", resume=True)
    assert _s3_snapshot(client, "out", "down/") == whole
    assert {k: v for k, v in _s3_snapshot(client, "out", "down/shards/").items() if k in committed} == committed


@pytest.mark.parametrize(
    ("code", "hint"),
    [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "the file system is read-only")],
    ids=["disk-full", "read-only"],
)
def test_a_full_or_read_only_out_stops_the_run_and_resume_completes_it(
    code, hint, tiny_project, tiny_checkpoint, tmp_path, monkeypatch
):
    monkeypatch.chdir(tiny_project)
    params, corpus = tiny_params(*ANNOTATE), str(tiny_project / "data/synth/edit")
    annotate_corpus(params, corpus, str(tmp_path / "whole"), tiny_checkpoint, track=False)
    out = tmp_path / "out"
    real_fsync, broken = os.fsync, False

    def fsync(fd: int) -> None:  # every atomic write fsyncs; the fault starts once shard 1 committed
        nonlocal broken
        path = os.readlink(f"/proc/self/fd/{fd}")
        if broken and path.startswith(str(out)):
            raise OSError(code, os.strerror(code))
        real_fsync(fd)
        broken = broken or Path(path).name.startswith(".000001.done.json")

    monkeypatch.setattr(storage.os, "fsync", fsync)
    with pytest.raises(storage.StorageError) as failure:
        annotate_corpus(params, corpus, str(out), tiny_checkpoint, track=False)
    message = str(failure.value)
    assert hint in message and "2 shard(s) of this run are committed" in message and "--resume" in message
    committed = {p.name: p.read_bytes() for p in (out / "shards").iterdir()}
    assert {"000000.done.json", "000001.done.json"} <= committed.keys() and "000002.done.json" not in committed
    assert not [p for p in out.rglob("*.tmp")], "a failed write left a partial file"

    monkeypatch.setattr(storage.os, "fsync", real_fsync)
    annotate_corpus(params, corpus, str(out), tiny_checkpoint, resume=True, track=False)
    assert snapshot(out) == snapshot(tmp_path / "whole")
    assert {name: (out / "shards" / name).read_bytes() for name in committed} == committed
