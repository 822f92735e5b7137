"""Real servers on loopback for the integration tests: PostgreSQL 15 and an MLflow tracking server.

Every process is started here and stopped at teardown, also when a test (or the start itself) fails.

``postgres_mlflow_db``: a throw-away PostgreSQL cluster (``initdb`` in a temp dir, ``pg_ctl start`` on
127.0.0.1 and a free port, its socket in the data dir) holding an empty ``mlflow`` database; yields
its SQLAlchemy URI. Skipped only when the PostgreSQL binaries are not installed. As root, the binaries
run as the ``postgres`` user (they refuse to run as root).

``mlflow_server``: ``mlflow server`` with that database as backend store and the moto S3 endpoint of
``tests.s3_fixtures.moto_s3`` as artifact store (bucket ``mlflow``, prefix ``artifacts``, proxied
by the server); ``MLFLOW_TRACKING_URI`` points at it for the test's duration.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.s3_fixtures import moto_s3  # noqa: F401 - a fixture used by mlflow_server

PG_BIN_CANDIDATES = [
    os.environ.get("SIGMA_PG_BIN", ""),
    *sorted((str(p.parent) for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")), reverse=True),
    *([str(Path(found).parent)] if (found := shutil.which("pg_ctl")) else []),
]
MLFLOW_BUCKET = "mlflow"
MLFLOW_PREFIX = "artifacts"
START_ATTEMPTS = 3  # a free port can be taken between probing it and binding it: retry on a new one


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def stop_process_group(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL, to ``proc``'s whole process group (started with ``start_new_session``)
    and to any descendant that left it; reaps ``proc``."""
    import psutil

    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        for child in descendants:
            try:
                child.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        try:
            proc.wait(timeout=timeout)
            _, alive = psutil.wait_procs(descendants, timeout=timeout / 2)
            if not alive:
                break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


# -- PostgreSQL ------------------------------------------------------------------------------------


def _pg_bin() -> Path | None:
    for candidate in PG_BIN_CANDIDATES:
        if candidate and (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    return None


@dataclass
class Postgres:
    bin: Path
    data: Path
    as_user: list[str]  # ["runuser", "-u", "postgres", "--"] as root, else []

    def run(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_user, str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )


@pytest.fixture(scope="session")
def postgres_mlflow_db() -> str:
    """``postgresql://postgres@127.0.0.1:PORT/mlflow`` on a fresh cluster, stopped and deleted at teardown."""
    pg_bin = _pg_bin()
    if pg_bin is None:  # `make test` installs them (make postgres): missing here is a broken set-up, not a skip
        pytest.fail(
            f"PostgreSQL server binaries (initdb, pg_ctl) not found in {[c for c in PG_BIN_CANDIDATES if c]}: "
            "run `make postgres` (apt, as root) or `sudo apt-get install postgresql`, or set SIGMA_PG_BIN"
        )
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="sigma-pg-"))  # directly under /tmp: the postgres user must reach it
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            pytest.fail("running as root, but there is no 'postgres' user to run the PostgreSQL server as")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    pg = Postgres(pg_bin, root / "data", as_user)
    log = root / "postgres.log"
    started = False
    try:
        init = pg.run("initdb", "-D", str(pg.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        assert init.returncode == 0, f"initdb failed:\n{init.stdout}\n{init.stderr}"
        for attempt in range(START_ATTEMPTS):
            port = free_port()
            # Loopback only; the unix socket in the data dir (not /var/run/postgresql); durability off (a test).
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -k {pg.data} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            start = pg.run("pg_ctl", "-D", str(pg.data), "-o", options, "-l", str(log), "-w", "-t", "60", "start")
            if start.returncode == 0:
                started = True
                break
            if attempt == START_ATTEMPTS - 1 or "already in use" not in tail(log):
                raise AssertionError(f"pg_ctl start failed:\n{start.stdout}\n{start.stderr}\n--- log ---\n{tail(log)}")
        created = pg.run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "mlflow")
        assert created.returncode == 0, f"createdb failed:\n{created.stdout}\n{created.stderr}"
        yield f"postgresql://postgres@127.0.0.1:{port}/mlflow"
    finally:
        if started:
            stop = pg.run("pg_ctl", "-D", str(pg.data), "-m", "fast", "-w", "-t", "30", "stop")
            if stop.returncode != 0:  # last resort: the postmaster's pid is the first line of postmaster.pid
                try:
                    os.kill(int((pg.data / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)
                except (OSError, ValueError, IndexError):
                    pass
        shutil.rmtree(root, ignore_errors=True)


# -- MLflow tracking server ------------------------------------------------------------------------


@dataclass
class MlflowServer:
    url: str
    s3_endpoint: str
    backend_uri: str
    workdir: Path  # the server's cwd: a local ./mlartifacts here would mean artifacts bypassed S3
    log: Path


@pytest.fixture
def mlflow_server(postgres_mlflow_db, moto_s3, tmp_path, monkeypatch) -> MlflowServer:  # noqa: F811
    """``mlflow server`` on 127.0.0.1 (PostgreSQL backend, moto S3 artifacts); this process tracks to it."""
    import boto3
    import mlflow

    boto3.client("s3", endpoint_url=moto_s3).create_bucket(Bucket=MLFLOW_BUCKET)
    workdir = tmp_path / "mlflow-server"
    workdir.mkdir()
    log = workdir / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env |= {
        "MLFLOW_S3_ENDPOINT_URL": moto_s3,  # AWS_* test credentials and endpoint: set by moto_s3
        "MLFLOW_DISABLE_TELEMETRY": "true",
        # No background job runner (a job-runner process plus 7 huey consumers): nothing here uses jobs.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    mlflow_cli = [sys.executable, "-m", "mlflow"]  # the CLI of this interpreter (the project's venv)
    proc: subprocess.Popen | None = None
    try:
        for attempt in range(START_ATTEMPTS):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    [
                        *mlflow_cli,
                        "server",
                        "--backend-store-uri",
                        postgres_mlflow_db,
                        "--artifacts-destination",
                        f"s3://{MLFLOW_BUCKET}/{MLFLOW_PREFIX}",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--workers",
                        "1",
                    ],
                    cwd=workdir,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            while proc.poll() is None:  # until it answers or exits: no deadline to miss on a loaded machine
                try:
                    with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    time.sleep(0.25)
            else:
                code = proc.poll()
                stop_process_group(proc)
                if attempt < START_ATTEMPTS - 1 and "already in use" in tail(log):
                    continue
                raise AssertionError(
                    f"mlflow server exited with code {code} before /health answered at {url}\n"
                    f"--- server.log ---\n{tail(log)}"
                )
            break
        for name in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID", "SIGMA_PIPELINE_RUN_ID"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
        mlflow.set_tracking_uri(url)
        yield MlflowServer(url, moto_s3, postgres_mlflow_db, workdir, log)
    finally:
        import mlflow.tracking.fluent as fluent

        while mlflow.active_run():
            mlflow.end_run(status="FAILED")
        fluent._active_experiment_id = None  # an id on this server means nothing to the next test's store
        mlflow.set_tracking_uri(None)  # no later test may talk to a stopped server (monkeypatch restores the env)
        if proc is not None:
            stop_process_group(proc)
