"""Annotation from and to S3 (a moto server on loopback): corpus read from a bucket, outputs written
under a prefix with write-then-marker commits, resume redoing only an uncommitted shard."""

from __future__ import annotations

import json

import boto3
import pytest

from sigma.annotate.run import annotate_corpus
from sigma.data.images import decode_mask
from tests.conftest import tiny_params
from tests.s3_fixtures import moto_s3  # noqa: F401  (fixture)

PARAMS = ["annotate.shard_size=6", "annotate.batch_size=4", "annotate.workers=0"]


@pytest.mark.integration
def test_annotate_s3_corpus_into_s3_prefix_and_resume(moto_s3, tiny_project, tiny_checkpoint, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tiny_project)
    client = boto3.client("s3", endpoint_url=moto_s3)
    client.create_bucket(Bucket="corpus")
    client.create_bucket(Bucket="annotated")
    source = tiny_project / "data/synth/edit"
    for path in source.rglob("*"):
        if path.is_file():
            client.upload_file(str(path), "corpus", f"edit/{path.relative_to(source)}")

    params = tiny_params(*PARAMS)
    summary = annotate_corpus(params, "s3://corpus/edit", "s3://annotated/run", tiny_checkpoint, track=False)
    keys = {o["Key"] for o in client.list_objects_v2(Bucket="annotated")["Contents"]}
    records = [
        json.loads(line)
        for line in client.get_object(Bucket="annotated", Key="run/annotations.jsonl")["Body"].read().splitlines()
    ]
    assert summary["annotated"] == len(records) == 16 and summary["shards"] == 3
    assert {f"run/{r['mask']}" for r in records} <= keys
    assert {"run/imdlbenco.json", "run/rejects.jsonl", "run/summary.json", "run/run.json"} <= keys
    mask = decode_mask(client.get_object(Bucket="annotated", Key=f"run/{records[0]['mask']}")["Body"].read())
    assert mask.shape == (records[0]["height"], records[0]["width"])
    assert records[0]["edited"].startswith("s3://corpus/edit/")

    before = client.get_object(Bucket="annotated", Key="run/annotations.jsonl")["Body"].read()
    client.delete_object(Bucket="annotated", Key="run/shards/000001.done.json")  # as if killed before its commit
    stamp = client.head_object(Bucket="annotated", Key="run/shards/000000.annotations.jsonl")["LastModified"]
    annotate_corpus(params, "s3://corpus/edit", "s3://annotated/run", tiny_checkpoint, resume=True, track=False)
    assert client.get_object(Bucket="annotated", Key="run/annotations.jsonl")["Body"].read() == before
    assert client.head_object(Bucket="annotated", Key="run/shards/000000.annotations.jsonl")["LastModified"] == stamp
    assert "run/shards/000001.done.json" in {o["Key"] for o in client.list_objects_v2(Bucket="annotated")["Contents"]}
