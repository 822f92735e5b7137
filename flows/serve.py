"""``make serve``: the deployments of ``prefect.yaml`` served from this process, with ``flow.serve``
semantics (no work pool, no worker: flow runs start as subprocesses of this one).

Schedules need a Prefect server's scheduler, which the ephemeral API lacks. Without ``PREFECT_API_URL``
this starts ``prefect server start`` on 127.0.0.1 (UI and API at http://127.0.0.1:PORT, its database
in ~/.prefect) for as long as it serves, and stops it on exit; with ``PREFECT_API_URL`` set it serves
to that server. ``prefect.yaml`` stays the one place where deployments, parameters and schedules are
written down: this reads it.

    python -m flows.serve [--port 4200] [--only annotate --only evaluate]
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PREFECT_YAML = ROOT / "prefect.yaml"


def load_flow(entrypoint: str):
    """``flows/train.py:stage1_flow`` -> the flow object (imported as ``flows.train``)."""
    path, _, name = entrypoint.partition(":")
    return getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)


def deployments(path: Path = PREFECT_YAML, only: list[str] | None = None) -> list:
    """A ``RunnerDeployment`` per deployment in ``prefect.yaml`` (name, parameters, tags, description,
    cron schedules, concurrency limit); ``only``: these names."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.schedules import Cron

    spec = yaml.safe_load(path.read_text())
    out = []
    for item in spec["deployments"]:
        if only and item["name"] not in only:
            continue
        limit = item.get("concurrency_limit")
        out.append(
            load_flow(item["entrypoint"]).to_deployment(
                name=item["name"],
                parameters=item.get("parameters") or {},
                tags=item.get("tags"),
                description=item.get("description"),
                schedules=[Cron(s["cron"], timezone=s.get("timezone")) for s in item.get("schedules") or []] or None,
                concurrency_limit=ConcurrencyLimitConfig(**limit) if isinstance(limit, dict) else limit,
            )
        )
    return out


@contextmanager
def local_server(port: int, timeout: float = 120) -> Iterator[str]:
    """``prefect server start`` on 127.0.0.1:``port`` until the block ends; yields its API URL."""
    url = f"http://127.0.0.1:{port}/api"
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(f"prefect server exited with {server.returncode}") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"prefect server did not answer at {url} in {timeout:g} s") from None
                time.sleep(1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4200, help="port of the local Prefect server (no PREFECT_API_URL)")
    parser.add_argument("--only", action="append", help="serve only this deployment (repeatable)")
    args = parser.parse_args(argv)
    os.chdir(ROOT)  # the flows' default paths (params.yaml, data/, models/) are relative to the repo

    from prefect import serve
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        serve(*deployments(only=args.only))
        return
    with local_server(args.port) as url, temporary_settings({PREFECT_API_URL: url}):
        print(f"Prefect UI and API: {url.removesuffix('/api')}", flush=True)
        serve(*deployments(only=args.only))


if __name__ == "__main__":
    main()
