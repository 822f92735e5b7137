"""The ``pipeline`` deployment of prefect.yaml, deployed and run on a real Prefect server and process worker.

Real processes on loopback, started and stopped here: ``prefect server start`` on 127.0.0.1 (its own
PREFECT_HOME and SQLite database in a temp dir, analytics off), the work pool ``gpu`` created with
``prefect work-pool create gpu --type process``, ``prefect worker start --pool gpu``, then
``prefect --no-prompt deploy --name pipeline`` and a run of ``sigma-pipeline/pipeline`` to completion.

The whole pipeline runs (data -> stage1 -> stage2 -> evaluate -> promote -> annotate), not only the data
flow, because that is the deployment users run: with the tiny config below the flow run takes 20-35 s
on 2 cores (55-80 s for the whole test, ~25 s of it starting the server and worker and deploying),
and up to 2 min when other jobs load them (load average 4-5: 115-145 s for the test). Of that,
7-10 s is the flow-run process importing torch/MLflow/sigma. Tracking stays on (``track=True``) with
MLflow on a temp SQLite file, because promotion reads the registry that Stage II registers into and
annotation loads ``models:/sigma-annotator@champion``.

Nothing is written into this checkout: the deployment is made from a temp *copy* of ``flows/``,
``prefect.yaml`` and ``params.yaml``. prefect.yaml's pull step is ``set_working_directory: {{ $PWD }}``,
which ``prefect deploy`` resolves from its environment: it runs in the copy with ``PWD`` set to it (a
subprocess's ``cwd`` alone does not change ``$PWD``), so flow runs work there. The worker sets
``PYTHONPATH`` to the copy so that ``import flows`` finds it before the checkout that the venv's editable
install points at; the copy's ``flows/__init__.py`` logs where it was imported, with the flow run id.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, TINY
from tests.integration.conftest import free_port, stop_process_group, tail

pytestmark = pytest.mark.integration

PREFECT = [sys.executable, "-m", "prefect"]  # the CLI of this interpreter (the project's venv)
DEPLOYMENT = "sigma-pipeline/pipeline"  # flow name / deployment name in prefect.yaml

# Tiny and fast on 2 CPU cores: 12/12/4 pairs from 12 built-in scenes, one epoch of batch 2 per stage,
# two evaluation methods, one robustness strength per degradation, shards of 4 pairs.
OVERRIDES = [
    *TINY,
    "data.sources=[{kind: builtin, max_images: 12}]",
    "data.inpaint.n_pairs=12",
    "data.edit.n_pairs=12",
    "data.calib.n_pairs=4",
    "stage1.epochs=1",
    "stage1.batch_size=2",
    "stage2.epochs=1",
    "stage2.batch_size=2",
    "evaluate.methods=[pixdiff_fixed_10, sigma]",
    "evaluate.gallery_size=2",
    "evaluate.robustness.methods=[sigma]",
    "evaluate.robustness.jpeg_quality=[90]",
    "evaluate.robustness.noise_variance=[5]",
    "evaluate.robustness.blur_kernel=[3]",
    "annotate.shard_size=4",
    "annotate.batch_size=4",
    "data.downstream.n_pairs=12",  # the downstream flow: every source, one tiny detector, one epoch
    "data.downstream.max_side=64",
    "downstream.detectors=[{name: srm_unet, kwargs: {widths: [8, 8]}}]",
    "downstream.train={input_size: 32, epochs: 1, batch_size: 4}",
    "downstream.seeds=[0]",
    "downstream.all_seeds=[]",
    "downstream.processes=1",
    "downstream.benchmarks=[{name: downstream_test, loader: pairs, path: data/synth/downstream, optional: true}]",
]

IMPORT_LOG = "flows_imports.log"
IMPORT_PROBE = f"""

import os as _os
from pathlib import Path as _Path

with open(_Path(__file__).resolve().parents[1] / "{IMPORT_LOG}", "a") as _log:  # added by the test
    _log.write(f"{{_os.environ.get('PREFECT__FLOW_RUN_ID', '-')}} {{_os.getcwd()}}\\n")
"""


def _wait_healthy(api: str, server: subprocess.Popen) -> bool:
    """True once ``api``/health answers; False when the server exits first. No deadline: a slow machine
    only waits longer (a server that neither answers nor exits would hang the test, not fail it)."""
    while server.poll() is None:
        try:
            with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


class Processes:
    """Background processes, each in its own process group, logging to files; all stopped by ``stop``."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, args: list[str], **kwargs) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, **kwargs
        )
        log.close()  # the child holds its own descriptor
        self.started.append(proc)
        return proc

    def log(self, name: str) -> str:
        return f"--- {name}.log ---\n{tail(self.logs / f'{name}.log')}"

    def stop(self) -> None:
        # The worker (and its flow runs, each in a process group of its own) before the server.
        for proc in reversed(self.started):
            stop_process_group(proc, timeout=15)


@pytest.fixture
def prefect_stack(tmp_path):
    """A Prefect server, the ``gpu`` process pool and a worker on it, serving a temp copy of the project.

    Yields ``(api_url, project, env, processes)``; every process is killed at teardown, even on failure."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copytree(ROOT / "flows", project / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("prefect.yaml", "params.yaml"):
        shutil.copy2(ROOT / name, project / name)
    with open(project / "flows" / "__init__.py", "a") as f:
        f.write(IMPORT_PROBE)
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "SIGMA_"))}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect_home"),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path}/prefect.db",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",  # pick the run up at once (default 10 s)
        "DO_NOT_TRACK": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "GX_ANALYTICS_ENABLED": "false",
        "DVC_NO_ANALYTICS": "1",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
        "MLFLOW_EXPERIMENT_NAME": "prefect-deployment",
        # `prefect deploy` resolves the pull step's {{ $PWD }} from this (cwd= leaves $PWD as it was);
        # the flow-run processes (children of the worker) import `flows` from the copy, not the checkout.
        "PWD": str(project),
        "PYTHONPATH": os.pathsep.join([str(project), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    processes = Processes(logs)
    try:
        for attempt in range(3):  # another process may take the free port before the server binds it
            port = free_port()
            env["PREFECT_API_URL"] = api = f"http://127.0.0.1:{port}/api"
            server = processes.start(
                f"server{attempt}",
                [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"],
                cwd=tmp_path,
                env=env,
            )
            if _wait_healthy(api, server):
                break
        else:
            pytest.fail(f"prefect server exited with {server.returncode}\n{processes.log(f'server{attempt}')}")

        pool = subprocess.run(
            [*PREFECT, "work-pool", "create", "gpu", "--type", "process"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert pool.returncode == 0, pool.stdout + pool.stderr
        # Not started in the copy: the flow run must get there through the deployment's pull step.
        processes.start(
            "worker",
            [*PREFECT, "worker", "start", "--pool", "gpu", "--name", "test-worker"],
            cwd=tmp_path,
            env=env | {"PWD": str(tmp_path)},
        )
        yield api, project, env, processes
    finally:
        processes.stop()


def test_pipeline_deployment_runs_to_completion_on_a_process_worker(prefect_stack):
    from mlflow import MlflowClient
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    api, project, env, processes = prefect_stack

    deploy = subprocess.run(
        [*PREFECT, "--no-prompt", "deploy", "--name", "pipeline"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr

    with temporary_settings({PREFECT_API_URL: api}):
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name(DEPLOYMENT)
        # As prefect.yaml declares it: on the gpu pool, manual (no schedule), this entrypoint, the pull step.
        assert deployment.work_pool_name == "gpu" and deployment.work_queue_name == "default"
        assert deployment.schedules == []
        assert deployment.entrypoint == "flows/pipeline.py:pipeline_flow"
        assert deployment.pull_steps == [  # {{ $PWD }}, resolved where `prefect deploy` ran
            {"prefect.deployments.steps.set_working_directory": {"directory": str(project)}}
        ]
        assert set(deployment.tags) == {"sigma", "pipeline"}

        flow_run = run_deployment(DEPLOYMENT, parameters={"overrides": OVERRIDES}, timeout=0)  # returns at once
        worker = processes.started[-1]
        with get_client(sync_client=True) as client:  # wait on the run's state (or the worker's exit), not a clock
            while not (flow_run := client.read_flow_run(flow_run.id)).state.is_final():
                assert worker.poll() is None, f"the worker exited with {worker.returncode}\n{processes.log('worker')}"
                time.sleep(1)
        logs = f"{processes.log('worker')}\n{processes.log('server')}"
        assert flow_run.state.type == StateType.COMPLETED, f"{flow_run.state!r}\n{logs}"
        assert flow_run.deployment_id == deployment.id

    # The flow-run process imported `flows` from the copy and worked in it (the pull step).
    imports = (project / IMPORT_LOG).read_text().splitlines()
    assert f"{flow_run.id} {project}" in imports, imports

    # Every stage left its outputs in the temp project.
    metrics = project / "metrics"
    assert json.loads((metrics / "validation.json").read_text())["success"] is True
    for name in ("stage1", "stage2", "evaluate", "robustness"):
        assert json.loads((metrics / f"{name}.json").read_text()), name
    for model in (
        "models/stage1/sigma.safetensors",
        "models/stage2/sigma.safetensors",
        "models/vae/config.json",
        "reports/table1.md",
        "reports/downstream.md",
    ):
        assert (project / model).is_file(), model
    promotion = json.loads((metrics / "promotion.json").read_text())
    assert promotion["promoted"] is True and "no @champion" in promotion["reason"]  # the first version
    assert "candidate_version" not in promotion  # one registry's history: in MLflow, not in git's metrics
    annotated = json.loads((project / "data" / "annotated" / "edit" / "summary.json").read_text())
    assert annotated["pairs"] == annotated["annotated"] == 12 and annotated["shards"] == 3
    assert len((project / "data" / "annotated" / "edit" / "annotations.jsonl").read_text().splitlines()) == 12

    # MLflow: the registered version holds @champion; the pipeline's MLflow run points at this flow run.
    mlflow = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    assert str(mlflow.get_model_version_by_alias("sigma-annotator", "champion").version) == "1"
    runs = mlflow.search_runs(
        [mlflow.get_experiment_by_name("prefect-deployment").experiment_id], "tags.`sigma.stage` = 'pipeline'"
    )
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert runs[0].data.tags["prefect.flow_run_id"] == str(flow_run.id)
    assert runs[0].data.tags["prefect.deployment_id"] == str(deployment.id)
