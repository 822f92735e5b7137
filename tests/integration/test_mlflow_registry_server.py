"""Train -> register -> promote -> serve against a real MLflow tracking server (issue 7).

``mlflow server`` runs as a subprocess with a PostgreSQL 15 backend store and moto S3 as its
(proxied) artifact store, all on loopback and started/stopped by the fixtures of this folder's
conftest. The real stages run on the tiny project: VAE, Stage I (untracked), Stage II (tracked:
logs and registers ``sigma-annotator``), then ``promote`` moves ``@champion``. The test checks the
alias on the server and in PostgreSQL, the artifacts in the bucket, and that the champion loads as
a pyfunc (predicting a DataFrame) and as a :class:`SigmaAnnotator` with the trained weights.
"""

from __future__ import annotations

import boto3
import mlflow
import pandas as pd
import pytest
import torch
from mlflow import MlflowClient

from sigma.eval.promote import promote
from sigma.model.checkpoint import load_checkpoint
from sigma.model.pyfunc import OUTPUT_COLUMNS, input_example, load_annotator
from sigma.model.sigma import SigmaAnnotator
from sigma.train.stage1 import train_stage1
from sigma.train.stage2 import train_stage2
from sigma.train.vae import train_vae_stage
from tests.conftest import tiny_params
from tests.integration.conftest import MLFLOW_BUCKET, MLFLOW_PREFIX

pytestmark = pytest.mark.integration

MODEL = "sigma-annotator"
CHAMPION = f"models:/{MODEL}@champion"


def _bucket_keys(endpoint: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=endpoint)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=MLFLOW_BUCKET, Prefix=f"{MLFLOW_PREFIX}/")
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def test_trained_model_is_registered_promoted_and_served_via_postgres_and_s3(
    mlflow_server, tiny_project, tmp_path, monkeypatch
):
    monkeypatch.chdir(tiny_project)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "integration-registry")
    params = tiny_params(
        f"vae.out={tmp_path / 'vae'}",
        f"stage1.out={tmp_path / 's1'}",
        f"stage2.out={tmp_path / 's2'}",
        "stage1.max_steps=1",
        "stage2.max_steps=1",
        "data.sources=[{kind: builtin, max_images: 6}]",
        "evaluate.benchmarks=[{name: tiny_edit, path: data/synth/edit}]",
        "evaluate.robustness.benchmark=tiny_edit",
    )
    train_vae_stage(params, track=False)
    train_stage1(params, track=False)
    summary = train_stage2(params, track=True, register=MODEL)
    version = str(summary["registered_version"])

    decision = promote(params)
    assert decision["promoted"], decision
    assert decision["candidate_version"] == version and decision["champion_version"] is None

    # The registry answers through the server, and the alias really lives in PostgreSQL.
    client = MlflowClient(tracking_uri=mlflow_server.url)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert champion.version == version
    assert client.get_model_version(MODEL, version).tags["promotion.promoted"] == "True"
    import psycopg

    with psycopg.connect(mlflow_server.backend_uri) as conn:
        aliases = conn.execute(
            "SELECT alias, version FROM registered_model_aliases WHERE name = %s", (MODEL,)
        ).fetchall()
    assert aliases == [("champion", int(version))]

    # Artifacts went through the server's proxy into the bucket, none to a local ./mlartifacts.
    run = client.get_run(champion.run_id)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/"), run.info.artifact_uri
    keys = _bucket_keys(mlflow_server.s3_endpoint)
    run_prefix = f"{MLFLOW_PREFIX}/{run.info.experiment_id}/{run.info.run_id}/artifacts/"
    assert f"{run_prefix}checkpoint/sigma.safetensors" in keys, keys
    assert f"{run_prefix}params.json" in keys, keys
    model_files = [k for k in keys if k.startswith(f"{MLFLOW_PREFIX}/{run.info.experiment_id}/models/")]
    assert any(k.endswith("/MLmodel") for k in model_files), keys
    assert any(k.endswith("/artifacts/sigma.safetensors") for k in model_files), keys
    assert not (mlflow_server.workdir / "mlartifacts").exists()

    # The champion serves: the generic pyfunc predicts a DataFrame, and loads as the annotator trained above.
    served = mlflow.pyfunc.load_model(CHAMPION)
    out = served.predict(input_example())
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(OUTPUT_COLUMNS) and len(out) == 1
    assert out.loc[0, "error"] == "" and bytes(out.loc[0, "mask"]).startswith(b"\x89PNG")

    annotator = load_annotator(CHAMPION, device="cpu")
    assert isinstance(annotator, SigmaAnnotator)
    trained = load_checkpoint(tmp_path / "s2" / "sigma.safetensors", device="cpu").state_dict()
    loaded = annotator.state_dict()
    assert trained.keys() == loaded.keys()
    assert all(torch.equal(trained[k], loaded[k]) for k in trained)
