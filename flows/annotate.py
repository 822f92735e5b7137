"""The annotation flow: ``sigma annotate`` with its shards run in this process (``runner="local"``, the
default) or fanned out over a Ray cluster through Prefect's Ray task runner (``runner="ray"``).

Both run the same :func:`sigma.annotate.run.run_shard`, so the exactly-once guarantees are the same:
a shard commits by its marker, written last; a shard that is retried or run twice rewrites the same
bytes; ``resume`` skips committed shards. Planning, the ``run.json`` check and the final merge stay
in the driver (:func:`sigma.annotate.run.annotate_corpus`); only shards go to Ray.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from functools import lru_cache
from typing import Literal

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.common import mlflow_flow_run
from sigma.annotate.layout import OutputLayout
from sigma.annotate.run import annotate_corpus, load_for_run, markers_in_order, run_shard
from sigma.annotate.shard import ShardTask
from sigma.config import Params, load_params
from sigma.model.sigma import SigmaAnnotator


@lru_cache(maxsize=1)
def _annotator(load: str) -> SigmaAnnotator:
    """One loaded model per worker process (Ray reuses CPU workers; GPU workers exit after a shard)."""
    return load_for_run({"load": load})


@task(retries=2, retry_delay_seconds=[10, 60], timeout_seconds=4 * 3600, cache_policy=NO_CACHE, tags=["sigma-gpu"])
def annotate_shard(task: ShardTask, out: str, params_path: str, overrides: list[str], model: dict) -> dict:
    """Annotate and commit one shard (a no-op returning its marker when already committed)."""
    return run_shard(task, out, load_params(params_path, overrides), model, _annotator(model["load"]))


@task(timeout_seconds=24 * 3600, cache_policy=NO_CACHE, tags=["sigma-gpu"])
def annotate_locally(
    corpus: str | None,
    out: str | None,
    model: str | None,
    resume: bool,
    params_path: str,
    overrides: list[str],
    track: bool,
) -> dict:
    """The whole run in this worker (the in-process runner): one GPU job, so tagged like the other heavy tasks."""
    return annotate_corpus(load_params(params_path, overrides), corpus, out, model, resume=resume, track=track)


RayListen = Literal["loopback", "network"]


def listen_on_loopback() -> None:
    """Make the local Ray cluster this process starts listen on 127.0.0.1 only (its GCS, raylet and
    workers): Ray's own switch, ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (on Linux Ray otherwise binds the
    host's routable address), read when ray is imported, so set on the loaded module too if it was."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if "ray" in sys.modules:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False


def ray_dispatch(
    address: str | None,
    num_cpus: int | None,
    gpus_per_shard: float | None,
    window: int | None,
    *,
    params_path: str,
    overrides: list[str],
    listen: RayListen = "loopback",
) -> Callable[..., Iterator[dict]]:
    """A ``dispatch`` for :func:`annotate_corpus` that submits :func:`annotate_shard` to a Ray cluster
    (``address``, or a temporary local one with ``num_cpus``) with at most ``window`` shards in flight
    (so the driver's memory stays flat), and yields their markers in shard order. Committed shards are
    skipped in the driver, as the local runner does. ``gpus_per_shard`` None: 1 on a cluster with GPUs,
    else 0; ``window`` None: twice the shards the cluster runs at once. Workers load the params from
    ``params_path`` and ``overrides``, so that path must be readable where they run. A temporary local
    cluster listens on loopback unless ``listen`` is ``"network"`` (reachable from other machines)."""
    if address is None and listen == "loopback":
        listen_on_loopback()
    from prefect_ray import RayTaskRunner
    from prefect_ray.context import remote_options

    def dispatch(tasks: Iterator[ShardTask], *, out: str, params: Params, model: dict) -> Iterator[dict]:
        if load_params(params_path, overrides) != params:
            raise ValueError(f"params differ from {params_path} with {overrides}: the workers would load other ones")
        init_kwargs = {"include_dashboard": False} | ({"num_cpus": num_cpus} if num_cpus and not address else {})
        with RayTaskRunner(address=address, init_kwargs=init_kwargs) as runner:
            import ray

            resources = ray.cluster_resources()
            gpus = (1.0 if resources.get("GPU", 0) > 0 else 0.0) if gpus_per_shard is None else gpus_per_shard
            slots = resources.get("GPU", 0) / gpus if gpus > 0 else resources.get("CPU", 1)
            in_flight = window or max(2, 2 * int(slots))

            def submit(shard: ShardTask):
                arguments = {"task": shard, "out": out, "params_path": params_path, "overrides": overrides}
                return runner.submit(annotate_shard, {**arguments, "model": model})

            with remote_options(num_gpus=gpus) if gpus > 0 else nullcontext():
                yield from markers_in_order(tasks, OutputLayout(out), submit, in_flight)

    return dispatch


@flow(name="sigma-annotate")
def annotate_corpus_flow(
    corpus: str | None = None,
    out: str | None = None,
    model: str | None = None,
    resume: bool = False,
    runner: Literal["local", "ray"] = "local",
    ray_address: str | None = None,
    ray_num_cpus: int | None = None,
    params_path: str = "params.yaml",
    overrides: list[str] | None = None,
    track: bool = True,
    gpus_per_shard: float | None = None,
    window: int | None = None,
    ray_listen: RayListen = "loopback",
) -> dict:
    """Annotate ``corpus`` into ``out`` (defaults: ``annotate`` in params); returns the run's summary.
    ``ray_listen``: where a temporary local Ray cluster listens (loopback, or network on purpose)."""
    overrides = list(overrides or [])
    if runner not in ("local", "ray"):
        raise ValueError(f"unknown runner {runner!r}: choose local or ray")
    with mlflow_flow_run("annotate", track):
        if runner == "local":
            return annotate_locally(corpus, out, model, resume, params_path, overrides, track)
        dispatch = ray_dispatch(
            ray_address,
            ray_num_cpus,
            gpus_per_shard,
            window,
            params_path=params_path,
            overrides=overrides,
            listen=ray_listen,
        )
        return annotate_corpus(
            load_params(params_path, overrides), corpus, out, model, resume=resume, track=track, dispatch=dispatch
        )


if __name__ == "__main__":
    annotate_corpus_flow()
