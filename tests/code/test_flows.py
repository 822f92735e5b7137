"""The flows run the same stage functions as the CLI, on Prefect's ephemeral API; their deployments."""

import importlib
import inspect
import json
import os

import pytest
import yaml

from tests.conftest import ROOT


@pytest.mark.slow
def test_data_flow_synthesises_and_validates(tmp_path, monkeypatch):
    from prefect.testing.utilities import prefect_test_harness

    from flows.data import data_flow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    overrides = [
        "data.sources=[{kind: builtin}]",
        "data.inpaint.n_pairs=2",
        "data.edit.n_pairs=3",
        "data.calib.n_pairs=2",
        "data.dev.n_pairs=2",
        "data.dev.max_side=96",
        "data.inpaint.perturb.vae=null",
        "data.edit.perturb.vae=null",
        "data.calib.perturb.vae=null",
        "data.dev.perturb.vae=null",
        "data.dev_large.perturb.vae=null",
        f"data.dev_large.source.path={tmp_path}/no-large-photos",  # as in a clone without `make large-photos`
    ]  # no trained VAE in a clean clone: with one kind still naming models/vae, the flow trained the full VAE there
    with prefect_test_harness():
        summaries = data_flow(str(ROOT / "params.yaml"), overrides, str(tmp_path / "synth"), str(tmp_path / "v.json"))
    dev_pairs = 2 if (ROOT.parent / "shared" / "data" / "coco_tiny").exists() else 0  # its source is ../shared
    assert {k: s["n_pairs"] for k, s in summaries.items()} == {
        "inpaint": 2,
        "edit": 3,
        "calib": 2,
        "dev": dev_pairs,
        "dev_large": 0,
    }
    assert json.loads((tmp_path / "v.json").read_text())["success"] is True


# --- the training, evaluation and pipeline flows, their deployments and the MLflow <-> Prefect link ---
# Fast: every sigma stage function is replaced by a recorder, so no model is trained or loaded.

FLOW_ENTRYPOINTS = {  # deployment name -> entrypoint in prefect.yaml
    "data": "flows/data.py:data_flow",
    "stage1": "flows/train.py:stage1_flow",
    "stage2": "flows/train.py:stage2_flow",
    "change_detection": "flows/train.py:change_detection_flow",
    "evaluate": "flows/evaluate.py:evaluate_flow",
    "annotate": "flows/annotate.py:annotate_corpus_flow",
    "downstream": "flows/downstream.py:downstream_flow",
    "pipeline": "flows/pipeline.py:pipeline_flow",
    "pipeline-paper": "flows/pipeline.py:pipeline_flow",
}


@pytest.fixture(scope="module")
def prefect_api():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness():
        yield


def test_tasks_have_the_intended_retries_tags_and_cache_policy():
    from prefect.cache_policies import NO_CACHE
    from prefect.states import Failed

    import flows.common as common
    import flows.evaluate as evaluate
    import flows.pipeline as pipeline
    import flows.train as train

    gpu = [
        train.grounder,
        train.vae,
        train.stage1,
        train.stage2,
        train.change_detection,
        evaluate.evaluate,
        evaluate.robustness,
        evaluate.promote_newest,
    ]
    import flows.downstream as downstream

    gpu += [downstream.labels, downstream.train, downstream.evaluate]
    for task in gpu:  # they take models: never cached, under the sigma-gpu limit, bounded in time
        assert task.cache_policy is NO_CACHE, task.name
        assert "sigma-gpu" in task.tags, task.name
        assert task.timeout_seconds, task.name
    for task in (train.grounder, train.vae, train.stage1, train.stage2, train.change_detection):  # would start over
        assert task.retries == 0, task.name
    for task in (evaluate.evaluate, evaluate.robustness, evaluate.promote_newest):  # registry downloads: I/O
        assert task.retries >= 1 and task.retry_delay_seconds, task.name
    gate = common.validation_gate
    assert gate.retries == 2 and gate.retry_delay_seconds == [10, 60] and gate.cache_policy is NO_CACHE
    assert gate.timeout_seconds  # retry_condition_fn gets what the engine hands it: Failed(data=exception)
    assert not gate.retry_condition_fn(
        gate, None, Failed(data=common.ValidationFailed("bad rows"))
    )  # data won't change
    assert gate.retry_condition_fn(gate, None, Failed(data=common.DatasetUnreadable("S3 down")))  # transient I/O
    assert pipeline.dvc_pull.tags == {"dvc"} and pipeline.dvc_pull.retries == 3
    assert list(pipeline.dvc_pull.retry_delay_seconds) == [10, 20, 40]  # exponential backoff
    assert evaluate.tables.retries == 1 and "sigma-gpu" not in evaluate.tables.tags
    assert evaluate.promote_newest.name == "promote"


def test_prefect_yaml_has_one_deployment_per_flow_on_the_gpu_pool():
    from prefect.cli.deploy._models import PrefectYamlModel
    from prefect.flows import Flow

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    model = PrefectYamlModel.model_validate(spec)  # the schema `prefect deploy` reads it with
    by_name = {d.name: d for d in model.deployments}
    assert {n: d.entrypoint for n, d in by_name.items()} == FLOW_ENTRYPOINTS
    for name, deployment in by_name.items():
        assert deployment.work_pool.name == "gpu", name
        path, _, attr = deployment.entrypoint.partition(":")
        assert (ROOT / path).is_file()
        flow = getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), attr)
        assert isinstance(flow, Flow), name
        unknown = set(deployment.parameters) - set(inspect.signature(flow.fn).parameters)
        assert not unknown, f"{name}: parameters {unknown} are not the flow's"
    crons = {
        n: [s["cron"] for s in spec["deployments"][i].get("schedules") or []]
        for i, n in enumerate(d["name"] for d in spec["deployments"])
    }
    assert crons["evaluate"] == ["0 2 * * *"] and by_name["evaluate"].parameters["model"].endswith("@champion")
    assert len(crons["annotate"]) == 1 and by_name["annotate"].parameters["resume"] is True
    assert crons["stage1"] == crons["stage2"] == crons["change_detection"] == crons["pipeline"] == []  # manual
    assert len(crons["downstream"]) == 1
    assert by_name["pipeline-paper"].parameters == {"overrides": ["profile=paper"]}


def test_serve_builds_the_deployments_of_prefect_yaml():
    from flows.serve import deployments

    spec = {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    built = {d.name: d for d in deployments()}
    assert set(built) == set(spec)
    for name, deployment in built.items():
        assert deployment.parameters == (spec[name].get("parameters") or {}), name
        crons = [s.schedule.cron for s in deployment.schedules or []]
        assert crons == [s["cron"] for s in spec[name].get("schedules") or []], name
    assert built["annotate"].concurrency_limit == 1


class Recorder:
    """Stand-ins for the sigma stage functions the flows call, recording the order of calls."""

    def __init__(self, monkeypatch, gate_ok: bool = True):
        import flows.annotate
        import flows.common
        import flows.data
        import flows.downstream
        import flows.evaluate
        import flows.train

        self.calls: list[str] = []
        record = self.record
        stubs = {
            (flows.data, "synth_stage"): lambda kind, data, out, track=True: record(f"synth_{kind}", {"n_pairs": 1}),
            (flows.data, "validate_stage"): lambda datasets, params, report=None: record("validate", (True, {})),
            (flows.common, "validate_stage"): lambda datasets, params, report=None: record("gate", self.gate(datasets)),
            (flows.train, "train_grounder_stage"): lambda *a, **k: record("grounder", {}),
            (flows.train, "train_vae_stage"): lambda *a, **k: record("vae", {}),
            (flows.train, "train_stage1"): lambda *a, **k: record("stage1", {"steps": 1}),
            (flows.train, "train_stage2"): lambda *a, **k: record("stage2", {"steps": 1}),
            (flows.train, "train_change_detection"): lambda *a, **k: record("change_detection", {"steps": 1}),
            (flows.evaluate, "evaluate_stage"): lambda *a, **k: record("evaluate", {}),
            (flows.evaluate, "robustness_stage"): lambda *a, **k: record("robustness", {}),
            (flows.evaluate, "tables_stage"): lambda *a, **k: record("tables", {}),
            (flows.evaluate, "promote_stage"): lambda *a, **k: record("promote", {"promoted": True}),
            (flows.annotate, "annotate_corpus"): lambda *a, **k: record("annotate", {"pairs": 1}),
            (flows.downstream, "synth_stage"): lambda kind, data, out, track=True: record(f"synth_{kind}", {}),
            (flows.downstream, "labels_stage"): lambda *a, **k: record("labels", {}),
            (flows.downstream, "train_stage"): lambda *a, **k: record("train_detectors", []),
            (flows.downstream, "evaluate_stage"): lambda *a, **k: record("evaluate_detectors", {}),
            (flows.downstream, "report_stage"): lambda *a, **k: record("report", []),
        }
        for (module, name), stub in stubs.items():
            monkeypatch.setattr(module, name, stub)
        self.gate_ok = gate_ok

    def record(self, name, result):
        self.calls.append(name)
        return result

    def gate(self, datasets):
        from sigma.data.validate import Failure, ValidationReport

        if self.gate_ok:
            return True, {d: ValidationReport(d, 1, True) for d in datasets}
        bad = Failure("non_empty", "id", "manifest has at least one pair", [])
        return False, {d: ValidationReport(d, 0, False, [bad]) for d in datasets}


# The grounder and the VAE are missing (so trained: recorded); the data flow needs no VAE.
MISSING = [
    "model.grounder.name=learned",
    "model.grounder.weights=missing/grounder.safetensors",
    "vae.out=missing/vae",
    "data.inpaint.perturb.vae=null",
    "data.edit.perturb.vae=null",
    "data.calib.perturb.vae=null",
    "data.dev.perturb.vae=null",
    "data.dev_large.perturb.vae=null",
]


# The data flow's calls: the training kinds, their validation, then the dev benchmarks.
DATA_FLOW_CALLS = ["synth_inpaint", "synth_edit", "synth_calib", "validate", "synth_dev", "synth_dev_large"]


def test_pipeline_runs_the_stages_in_order(prefect_api, tmp_path, monkeypatch):
    from flows.pipeline import pipeline_flow

    monkeypatch.chdir(tmp_path)  # the flows write relative paths (metrics/promotion.json)
    recorder = Recorder(monkeypatch)
    summaries = pipeline_flow(str(ROOT / "params.yaml"), MISSING, track=False)
    assert recorder.calls == [
        *DATA_FLOW_CALLS,
        "gate",
        "grounder",
        "stage1",
        "gate",
        "vae",
        "stage2",
        "gate",
        "change_detection",
        "gate",
        "evaluate",
        "robustness",
        "tables",
        "promote",
        "annotate",
        "synth_downstream",
        "gate",
        "labels",
        "train_detectors",
        "evaluate_detectors",
        "report",
    ]
    assert summaries["stage1"] == {"steps": 1} and summaries["evaluate"]["promotion"] == {"promoted": True}
    assert json.loads((tmp_path / "metrics" / "promotion.json").read_text()) == {"promoted": True}


def test_failed_validation_gate_stops_the_flow_before_training(prefect_api, tmp_path, monkeypatch):
    from flows.common import ValidationFailed
    from flows.pipeline import pipeline_flow
    from flows.train import stage1_flow

    monkeypatch.chdir(tmp_path)
    recorder = Recorder(monkeypatch, gate_ok=False)
    with pytest.raises(ValidationFailed, match="FAILED"):
        stage1_flow(str(ROOT / "params.yaml"), MISSING, track=False)
    assert recorder.calls == ["gate"]  # not retried: a retry cannot fix the data
    recorder.calls.clear()
    with pytest.raises(ValidationFailed):
        pipeline_flow(str(ROOT / "params.yaml"), MISSING, track=False)
    assert recorder.calls == [*DATA_FLOW_CALLS, "gate"]


def test_flow_run_and_mlflow_runs_point_at_each_other(prefect_api, tmp_path, monkeypatch):
    import mlflow
    from prefect.artifacts import Artifact

    import flows.train
    from flows.train import stage1_flow
    from sigma.tracking import PIPELINE_RUN_ENV, start_run

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "flows-link")
    monkeypatch.delenv(PIPELINE_RUN_ENV, raising=False)
    Recorder(monkeypatch)

    def train_stage1(params, resume=False, track=True, metrics=None):  # a stage run, as the real one opens
        with start_run("stage1", stage="stage1"):
            return {"steps": 1}

    monkeypatch.setattr(flows.train, "train_stage1", train_stage1)
    state = stage1_flow(str(ROOT / "params.yaml"), ["model.grounder.name=none"], return_state=True)
    assert state.is_completed()
    flow_run_id = str(state.state_details.flow_run_id)
    assert PIPELINE_RUN_ENV not in os.environ  # restored

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    runs = mlflow.search_runs(experiment_names=["flows-link"], output_format="list")
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    child = next(r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id)
    assert len(runs) == 2 and parent.info.status == "FINISHED" and parent.info.run_name == "stage1"
    assert parent.data.tags["prefect.flow_run_id"] == child.data.tags["prefect.flow_run_id"] == flow_run_id
    assert parent.data.tags["prefect.flow_name"] == "sigma-stage1"
    artifact = Artifact.get("mlflow-stage1")
    assert str(artifact.flow_run_id) == flow_run_id and parent.info.run_id in artifact.data


def test_mlflow_artifact_keys_are_valid_prefect_keys_for_every_flow_name():
    from prefect.artifacts import Artifact

    from flows.common import artifact_key

    for name in ("pipeline", "data", "stage1", "stage2", "change_detection", "evaluate", "annotate"):
        key = artifact_key(name)
        Artifact(key=key, type="markdown", data="x")  # Prefect's own validation of the key
        assert key.startswith("mlflow-") and "_" not in key
    assert artifact_key("change_detection") == "mlflow-change-detection"


def test_grounder_task_trains_when_the_head_or_its_cross_fitted_heads_are_missing(tmp_path, monkeypatch):
    import flows.train as train

    monkeypatch.chdir(tmp_path)
    trained: list[str] = []
    monkeypatch.setattr(train, "train_grounder_stage", lambda params, out, track: trained.append(out) or {})
    (tmp_path / "head.safetensors").write_bytes(b"")
    overrides = [
        "model.grounder.name=learned",
        "model.grounder.weights=head.safetensors",
        "train_grounder.folds_out=folds",
    ]

    train.grounder.fn(str(ROOT / "params.yaml"), overrides, track=False)  # the folds are missing
    assert trained == ["head.safetensors"]
    (tmp_path / "folds").mkdir()
    (tmp_path / "folds" / "fold0.safetensors").write_bytes(b"")
    assert train.grounder.fn(str(ROOT / "params.yaml"), overrides, track=False) is None
    (tmp_path / "folds" / "fold0.safetensors").unlink()
    assert train.grounder.fn(str(ROOT / "params.yaml"), [*overrides, "train_grounder.folds=0"], track=False) is None
    assert trained == ["head.safetensors"]
