"""DVC push/pull round trip through an S3 remote served by moto on loopback, chosen by the one
``SIGMA_STORAGE`` setting (``sigma remote``) over the committed local-folder remote."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from tests.s3_fixtures import moto_s3  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration

DVC = Path(sys.executable).parent / "dvc"
SIGMA = Path(sys.executable).parent / "sigma"
BUCKET = "sigma-dvc"

FILES = {
    "a.txt": b"hello dvc\n",
    "nested/b.bin": bytes(range(256)) * 64,
    "nested/deeper/c.json": b'{"id": "p0", "instruction": "make it red"}\n',
    "empty.dat": b"",
}


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)  # carries the AWS_* variables the moto_s3 fixture set
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        DVC_NO_ANALYTICS="1",
        DVC_GLOBAL_CONFIG_DIR=str(home / "dvc-global"),
        DVC_SYSTEM_CONFIG_DIR=str(home / "dvc-system"),
        DVC_SITE_CACHE_DIR=str(home / "dvc-site-cache"),
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
    )
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str], ok: bool = True) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    command = " ".join(map(str, args))
    assert (proc.returncode == 0) == ok, f"{command} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


@pytest.mark.skipif(not DVC.exists() or not SIGMA.exists(), reason=f"dvc/sigma not installed next to {sys.executable}")
def test_dvc_push_pull_round_trip(moto_s3, tmp_path):  # noqa: F811
    repo = tmp_path / "repo"
    repo.mkdir()
    env = _env(tmp_path)
    dvc = lambda *a: _run([str(DVC), *a], repo, env)  # noqa: E731
    git = lambda *a: _run(["git", *a], repo, env)  # noqa: E731

    git("init", "-q")
    git("config", "user.name", "Sigma Test")
    git("config", "user.email", "sigma-test@example.invalid")
    git("config", "commit.gpgsign", "false")
    dvc("init", "-q")

    raw = repo / "data" / "raw"
    for rel, data in FILES.items():
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        (raw / rel).write_bytes(data)
    dvc("add", "data/raw")
    assert (repo / "data" / "raw.dvc").is_file()

    dvc("remote", "add", "-d", "local", str(tmp_path / "local-remote"))  # the committed default
    git("add", "-A")
    git("commit", "-q", "-m", "track data/raw")

    boto3.client("s3", endpoint_url=moto_s3).create_bucket(Bucket=BUCKET)
    sigma = lambda *a, **kw: _run([str(SIGMA), *a], repo, env | kw.pop("env", {}), **kw)  # noqa: E731
    assert "expected s3://BUCKET" in sigma("remote", env={"SIGMA_STORAGE": "/mnt/data"}, ok=False)
    sigma("remote", env={"SIGMA_STORAGE": f"s3://{BUCKET}/store/"})  # AWS_ENDPOINT_URL: the moto server
    assert dvc("remote", "default").strip() == "sigma-storage"
    assert not git("status", "--porcelain").strip()  # .dvc/config.local only: nothing to commit

    dvc("push")
    keys = [
        o["Key"] for o in boto3.client("s3", endpoint_url=moto_s3).list_objects_v2(Bucket=BUCKET).get("Contents", [])
    ]
    assert keys and all(k.startswith("store/") for k in keys)
    assert "in sync" in dvc("status", "--cloud")

    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(raw)
    assert not raw.exists()

    dvc("pull")
    pulled = {p.relative_to(raw).as_posix(): p.read_bytes() for p in raw.rglob("*") if p.is_file()}
    assert pulled == FILES
    assert "Data and pipelines are up to date" in dvc("status")
    assert "in sync" in dvc("status", "--cloud")
    assert not (tmp_path / "local-remote").exists()

    sigma("remote", env={"SIGMA_STORAGE": ""})  # unset again: the committed remote
    assert dvc("remote", "default").strip() == "local"
