"""Storage that fails under a corpus run: an S3 endpoint answering 500/503 SlowDown (moto behind a
botocore hook that fails chosen requests), a local OUT that fills up or turns read-only.

Transient S3 errors are retried with backoff and change nothing. A fault that stays stops the run
with a message that names it and says to ``--resume``; the committed shards stay as they are, and the
resumed run's outputs are byte-identical to an uninterrupted run's. Faults start at a chosen commit
(the marker of shard 1), never at a time, so the tests are deterministic.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
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
from sigma.data.pairs import read_manifest
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


@pytest.mark.integration
def test_a_corpus_image_whose_s3_reads_keep_failing_is_not_rejected_and_resume_reads_it(
    moto_s3,  # noqa: F811
    tiny_project,
    tiny_checkpoint,
    tmp_path,
    monkeypatch,  # noqa: F811
):
    """A 5xx that outlasts the retries says nothing about the image: its shard stops uncommitted (no
    ``unreadable_file`` reject), and the resumed run's outputs equal a run without the fault."""
    monkeypatch.chdir(tiny_project)
    client = boto3.client("s3", endpoint_url=moto_s3)
    client.create_bucket(Bucket="corpus")
    local = tiny_project / "data/synth/edit"
    for path in (p for p in local.rglob("*") if p.is_file()):
        client.put_object(Bucket="corpus", Key=f"edit/{path.relative_to(local)}", Body=path.read_bytes())
    params, corpus = tiny_params(*ANNOTATE), "s3://corpus/edit"
    annotate_corpus(params, corpus, str(tmp_path / "whole"), tiny_checkpoint, track=False)

    victim = read_manifest(str(local), resolve=False)[5].edited  # a pair of shard 1 (shards of 4)
    out = tmp_path / "out"
    endpoint = FailingEndpoint(lambda method, url: 503 if method == "GET" and url.endswith(victim) else None)
    with endpoint, pytest.raises(storage.StorageError, match="SlowDown") as failure:
        annotate_corpus(params, corpus, str(out), tiny_checkpoint, track=False)
    assert endpoint.failed >= storage.S3_ATTEMPTS  # retried with backoff before giving up
    assert "1 shard(s) of this run are committed" in str(failure.value)
    assert not (out / "shards/000001.done.json").exists()

    annotate_corpus(params, corpus, str(out), tiny_checkpoint, resume=True, track=False)
    assert snapshot(out) == snapshot(tmp_path / "whole")
    assert json.loads((out / "summary.json").read_text())["rejected"] == 0


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


def _fail_writes(monkeypatch, out: Path, where: str, code: int) -> None:
    """Opening for writing (or moving into place) a file under ``out`` whose path holds ``where`` fails."""
    real_open, real_replace = io.open, os.replace

    def hit(path) -> bool:
        return str(path).startswith(str(out)) and where in str(path)

    def failing_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax") and hit(file):
            raise OSError(code, os.strerror(code), str(file))
        return real_open(file, mode, *args, **kwargs)

    def failing_replace(src, dst, **kwargs):
        if hit(dst) and ".staging" in str(src):
            raise OSError(code, os.strerror(code), str(dst))
        return real_replace(src, dst, **kwargs)

    monkeypatch.setattr(io, "open", failing_open)
    monkeypatch.setattr(builtins, "open", failing_open)
    monkeypatch.setattr(os, "replace", failing_replace)


@pytest.mark.parametrize(
    ("where", "code", "hint", "committed"),
    [
        ("/.staging/000002/masks/", errno.ENOSPC, "the disk is full", 2),  # a staged mask of shard 2
        ("/masks/", errno.EROFS, "the file system is read-only", 0),  # a staged mask moved into place
        ("/.finalize-", errno.ENOSPC, "the disk is full", 4),  # the merged outputs, every shard committed
    ],
    ids=["staged-mask", "mask-commit", "merge"],
)
def test_every_local_write_path_stops_the_run_cleanly_and_resume_completes_it(
    where, code, hint, committed, tiny_project, tiny_checkpoint, tmp_path, monkeypatch
):
    monkeypatch.chdir(tiny_project)
    params, corpus = tiny_params(*ANNOTATE), str(tiny_project / "data/synth/edit")
    annotate_corpus(params, corpus, str(tmp_path / "whole"), tiny_checkpoint, track=False)
    out = tmp_path / "out"
    with monkeypatch.context() as faults:
        _fail_writes(faults, out, where, code)
        with pytest.raises(storage.StorageError) as failure:
            annotate_corpus(params, corpus, str(out), tiny_checkpoint, track=False)
    message = str(failure.value)
    assert hint in message and f"{committed} shard(s) of this run are committed" in message and "--resume" in message
    assert len(list((out / "shards").glob("*.done.json"))) == committed

    annotate_corpus(params, corpus, str(out), tiny_checkpoint, resume=True, track=False)
    assert snapshot(out) == snapshot(tmp_path / "whole")
    leftovers = [p for p in out.rglob("*") if p.is_file() and (".staging" in str(p) or ".finalize-" in str(p))]
    assert leftovers == [] and not list(out.rglob("*.tmp"))
