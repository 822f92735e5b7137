"""MLflow set-up shared by every stage: tracking URI, lineage tags and flattened params.

The default is embedded: in a project folder (one holding ``params.yaml`` or ``dvc.yaml``), a SQLite
file with artifacts beside it; anywhere else, the same under the user's data folder
(``$XDG_DATA_HOME/sigma``), so a command run outside a project never litters the current folder. A
server is one setting away: ``MLFLOW_TRACKING_URI`` (e.g. ``http://mlflow:5000``).
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
PIPELINE_RUN_ENV = "SIGMA_PIPELINE_RUN_ID"
STAGE_TIMES_ENV = "SIGMA_STAGE_TIMES"  # a JSONL file each DVC stage command appends its wall time to


def in_project(folder: str | Path = ".") -> bool:
    return any((Path(folder) / name).is_file() for name in ("params.yaml", "dvc.yaml"))


def user_tracking_dir() -> Path:
    """Where runs outside a project are tracked: ``$XDG_DATA_HOME/sigma`` (``~/.local/share/sigma``)."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share") / "sigma"


def outside_project() -> bool:
    """Tracking goes to the user's data folder: no project here and no tracking server set."""
    return "MLFLOW_TRACKING_URI" not in os.environ and not in_project()


def tracking_uri() -> str:
    if outside_project():
        return f"sqlite:///{user_tracking_dir() / 'mlflow.db'}"
    return os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)


def _use_experiment(name: str, outside: bool) -> None:
    """``mlflow.set_experiment``, creating the experiment first with its artifacts in the user's data
    folder when ``outside`` a project (MLflow's default, ``./mlruns``, would be the current folder)."""
    import mlflow

    if outside and mlflow.get_experiment_by_name(name) is None:
        try:
            mlflow.create_experiment(name, artifact_location=(user_tracking_dir() / "mlruns").as_uri())
        except mlflow.exceptions.MlflowException:
            pass  # created meanwhile by another process: use it
    mlflow.set_experiment(name)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"data": {"edit": {"n_pairs": 3}}}`` -> ``{"data.edit.n_pairs": 3}`` (lists kept as values)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def git_commit(cwd: str | Path = ".") -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def lock_hashes(stage: str, lock_file: str | Path = "dvc.lock") -> dict[str, str]:
    """``{"dvc.dep.<path>": md5}`` for a stage's inputs as recorded in ``dvc.lock`` (empty if unknown)."""
    path = Path(lock_file)
    if not path.exists():
        return {}
    entry = (yaml.safe_load(path.read_text()) or {}).get("stages", {}).get(stage, {})
    return {f"dvc.dep.{d['path']}": d.get("md5", "") for d in entry.get("deps", [])}


@contextmanager
def start_run(
    name: str, params: Mapping[str, Any] | None = None, stage: str | None = None, nested: bool = False
) -> Iterator[Any]:
    """An MLflow run tagged with the git commit and the stage's dvc.lock input hashes."""
    import mlflow

    outside = outside_project()  # before set_tracking_uri, which exports MLFLOW_TRACKING_URI
    if outside:
        user_tracking_dir().mkdir(parents=True, exist_ok=True)
        print(
            f"not in a project folder: tracking to {tracking_uri()} (set MLFLOW_TRACKING_URI to choose)",
            file=sys.stderr,
        )
    mlflow.set_tracking_uri(tracking_uri())
    _use_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME", "sigma"), outside)
    tags = {"sigma.stage": stage or name}
    if parent := os.environ.get(PIPELINE_RUN_ENV):  # a pipeline run (flow, make run) groups the stages
        tags["mlflow.parentRunId"] = parent
    if commit := git_commit():
        tags["git.commit"] = commit
    if stage:
        tags.update(lock_hashes(stage))
    with mlflow.start_run(run_name=name, nested=nested, tags=tags) as run:
        if params:
            mlflow.log_params({k: str(v)[:500] for k, v in flatten(params).items()})
        yield run


@contextmanager
def maybe_run(track: bool, name: str, params: Mapping[str, Any] | None = None, stage: str | None = None):
    """:func:`start_run` when ``track``, else nothing (``mlflow.active_run()`` stays ``None``)."""
    if not track:
        yield None
        return
    with start_run(name, params, stage=stage) as run:
        yield run


def log_summary(name: str, params: Mapping[str, Any], summary: Mapping[str, Any], stage: str | None = None) -> None:
    """One run holding a stage's params, its numeric summary as metrics and the summary as JSON."""
    import mlflow

    with start_run(name, params, stage=stage):
        metrics = {
            k: float(v) for k, v in flatten(summary).items() if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        mlflow.log_metrics(metrics)
        mlflow.log_dict(dict(summary), "summary.json")


def input_tags(paths: list[str]) -> dict[str, str]:
    """``{"input.<path>": md5}`` of each input as it is now (a dataset folder: its manifest), so a
    run traces to its exact data even before ``dvc.lock`` records the stage."""
    import hashlib

    tags = {}
    for path in paths:
        file = Path(path) / "manifest.jsonl" if Path(path).is_dir() else Path(path)
        if file.exists():
            tags[f"input.{path}"] = hashlib.md5(file.read_bytes()).hexdigest()
    return tags


def time_this_stage(started: float) -> None:
    """Under :func:`run_pipeline`, append this process's wall time since ``started`` (``time.monotonic``),
    named by the DVC stage that started it (``DVC_STAGE``), to the pipeline's stage-times file at exit."""
    times, stage = os.environ.get(STAGE_TIMES_ENV), os.environ.get("DVC_STAGE")
    if not times or not stage:
        return

    def record() -> None:
        with open(times, "a") as f:  # one short line per process: appends do not interleave
            f.write(json.dumps({"stage": stage, "seconds": round(time.monotonic() - started, 2)}) + "\n")

    atexit.register(record)


def stage_times(path: str | Path) -> dict[str, float]:
    """``{stage: seconds}`` from a stage-times file, in the order the stages ran."""
    file = Path(path)
    lines = file.read_text().splitlines() if file.exists() else []
    return {row["stage"]: row["seconds"] for row in map(json.loads, lines)}


def report_stage_times(times: dict[str, float], total: float) -> None:
    """Print the stages' wall times as a table (stderr) and log them to the active MLflow run."""
    import mlflow
    from rich.console import Console
    from rich.table import Table

    table = Table(title="pipeline stages (wall time)")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, seconds in times.items():
        table.add_row(stage, f"{seconds:.1f}")
    table.add_row("total (stages, DVC and start-up)", f"{total:.1f}", style="bold")
    Console(stderr=True).print(table)
    mlflow.log_metrics({f"stage_seconds.{k}": v for k, v in times.items()} | {"pipeline_seconds": total})
    mlflow.log_dict({"stages": times, "total": total}, "stage_times.json")


def run_pipeline(command: list[str], name: str = "pipeline") -> int:
    """Run ``command`` (e.g. ``dvc repro``) inside a parent MLflow run that its stages nest under;
    print and log each stage's wall time. A ``dvc repro`` first prints the stages it will run with
    their expected times, and its stage times then update the record (:mod:`sigma.plan`).

    The run ends FAILED when the command fails; returns the command's exit code.
    """
    import mlflow

    from sigma import plan

    targets = plan.repro_targets(command)
    if targets is not None:
        try:
            plan.print_plan(plan.stages_to_run(targets), plan.recorded_times())
        except Exception as exc:  # the plan is a courtesy: the run itself decides, and reports its errors
            print(f"(no plan: {type(exc).__name__}: {exc})", file=sys.stderr)
    with start_run(name) as run, tempfile.TemporaryDirectory() as tmp:
        times = Path(tmp) / "stage_times.jsonl"
        env = {**os.environ, PIPELINE_RUN_ENV: run.info.run_id, STAGE_TIMES_ENV: str(times)}
        start = time.monotonic()
        code = subprocess.call(command, env=env)
        report_stage_times(stage_times(times), round(time.monotonic() - start, 1))
        if targets is not None:
            plan.update_record(stage_times(times))
        mlflow.set_tag("sigma.command", " ".join(command))
        if code:
            mlflow.end_run(status="FAILED")
    return code
