"""EditPairDataset reading a dataset from S3 (moto server on loopback)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import boto3
import numpy as np
import pytest
import torch

from sigma.data import storage
from sigma.data.dataset import EditPairDataset, PairError
from sigma.data.images import encode_png
from tests.s3_fixtures import moto_s3, set_test_aws_env  # noqa: F401  (moto_s3 is a fixture)

pytestmark = pytest.mark.integration

BUCKET = "sigma-test"
PREFIX = "ds"


def _make_local_dataset(root: Path, n: int = 3, with_missing_mask_on: str | None = "p1") -> list[str]:
    """Write ``n`` small pairs + manifest under ``root``; returns the pair ids."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    lines, ids = [], []
    for i in range(n):
        pid = f"p{i}"
        h, w = 8 + i, 12 - i
        original = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        edited = original.copy()
        mask = np.zeros((h, w), dtype=bool)
        mask[1:4, 2:6] = True
        edited[mask] = 255 - edited[mask]
        (root / "images" / f"{pid}_orig.png").write_bytes(encode_png(original))
        (root / "images" / f"{pid}_edit.png").write_bytes(encode_png(edited))
        record = {
            "id": pid,
            "original": f"images/{pid}_orig.png",
            "edited": f"images/{pid}_edit.png",
            "mask": None,
            "instruction": f"invert a patch in image {i}",
            "edit_type": "attribute_change",
            "source": "test",
            "split": "train",
        }
        if pid != with_missing_mask_on:
            (root / "masks" / f"{pid}.png").write_bytes(encode_png(mask))
            record["mask"] = f"masks/{pid}.png"
        lines.append(json.dumps(record))
        ids.append(pid)
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return ids


def _upload_tree(client, root: Path, bucket: str, prefix: str, skip: set[str] = frozenset()) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            rel = path.relative_to(root).as_posix()
            if rel not in skip:
                client.put_object(Bucket=bucket, Key=f"{prefix}/{rel}", Body=path.read_bytes())


@pytest.fixture
def s3_dataset(moto_s3, tmp_path):  # noqa: F811
    local = tmp_path / "local"
    ids = _make_local_dataset(local)
    client = boto3.client("s3", endpoint_url=moto_s3)
    client.create_bucket(Bucket=BUCKET)
    _upload_tree(client, local, BUCKET, PREFIX)
    return {"local": local, "ids": ids, "client": client, "endpoint": moto_s3}


def _assert_same_items(remote: EditPairDataset, local: EditPairDataset) -> None:
    assert len(remote) == len(local) == 3
    for i in range(len(local)):
        a, b = remote[i], local[i]
        assert a["id"] == b["id"]
        assert a["instruction"] == b["instruction"]
        assert a["has_mask"] == b["has_mask"]
        for key in ("original", "edited", "mask"):
            assert a[key].shape == b[key].shape
            assert a[key].dtype == torch.float32
            assert torch.equal(a[key], b[key]), f"{a['id']}: {key} differs"


@pytest.mark.parametrize("form", ["folder", "folder/", "manifest"])
def test_s3_dataset_matches_local_copy(s3_dataset, form):
    uri = {
        "folder": f"s3://{BUCKET}/{PREFIX}",
        "folder/": f"s3://{BUCKET}/{PREFIX}/",
        "manifest": f"s3://{BUCKET}/{PREFIX}/manifest.jsonl",
    }[form]
    remote = EditPairDataset(uri)
    local = EditPairDataset(str(s3_dataset["local"]))
    assert [p.id for p in remote.pairs] == s3_dataset["ids"]
    assert all(p.original.startswith(f"s3://{BUCKET}/{PREFIX}/images/") for p in remote.pairs)
    _assert_same_items(remote, local)

    # Spot-check actual pixel content, not just local/remote agreement.
    item = remote[0]
    assert item["original"].shape == (3, 8, 12)
    assert item["has_mask"] is True
    assert item["mask"].sum().item() == 3 * 4
    assert remote[1]["has_mask"] is False
    assert torch.count_nonzero(remote[1]["mask"]) == 0


def test_missing_edited_object_raises_pair_error_naming_id(moto_s3, tmp_path):  # noqa: F811
    local = tmp_path / "local"
    _make_local_dataset(local)
    client = boto3.client("s3", endpoint_url=moto_s3)
    client.create_bucket(Bucket=BUCKET)
    _upload_tree(client, local, BUCKET, PREFIX, skip={"images/p2_edit.png"})

    ds = EditPairDataset(f"s3://{BUCKET}/{PREFIX}")
    assert ds[0]["id"] == "p0"  # the intact pairs still load
    with pytest.raises(PairError) as info:
        ds[2]
    assert info.value.pair_id == "p2"
    assert "'p2'" in str(info.value)
    assert f"s3://{BUCKET}/{PREFIX}/images/p2_edit.png" in str(info.value)


def test_missing_manifest_raises_storage_error(moto_s3):  # noqa: F811
    boto3.client("s3", endpoint_url=moto_s3).create_bucket(Bucket=BUCKET)
    with pytest.raises(storage.StorageError, match="manifest.jsonl"):
        EditPairDataset(f"s3://{BUCKET}/nothing-here")


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the socket goes away


def test_unreachable_endpoint_raises_storage_error_with_hint(monkeypatch, tmp_path):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    set_test_aws_env(monkeypatch, endpoint, tmp_path)
    # The production client retries (adaptive, 8 attempts); no backoff sleeps in the test.
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    storage.s3_client.cache_clear()
    try:
        start = time.monotonic()
        with pytest.raises(storage.StorageError) as info:
            EditPairDataset(f"s3://{BUCKET}/{PREFIX}")
        elapsed = time.monotonic() - start
    finally:
        storage.s3_client.cache_clear()
    message = str(info.value)
    assert f"s3://{BUCKET}/{PREFIX}/manifest.jsonl" in message
    assert "AWS_ENDPOINT_URL" in message
    assert "reachable" in message
    assert elapsed < 15
