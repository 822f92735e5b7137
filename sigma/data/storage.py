"""Reading and writing bytes at local paths or ``s3://`` URIs.

S3 goes through boto3; the endpoint comes from the standard ``AWS_ENDPOINT_URL`` /
``AWS_ENDPOINT_URL_S3`` variables (MinIO, moto, ...) and retries use botocore's adaptive mode, so
transient errors back off instead of failing a corpus run.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path, PurePosixPath


class StorageError(IOError):
    """A file could not be read or written; the message says which and why."""


def is_s3(uri: str) -> bool:
    return str(uri).startswith("s3://")


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise StorageError(f"malformed S3 URI {uri!r}: expected s3://BUCKET/KEY")
    return bucket, key


@lru_cache(maxsize=1)
def s3_client():
    import boto3
    from botocore.config import Config

    # Short connect timeout: a wrong endpoint should fail in seconds, not hang every read.
    config = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 5, "mode": "adaptive"})
    return boto3.client("s3", config=config)


def join(base: str, rel: str) -> str:
    """Resolve ``rel`` against a folder ``base``; absolute paths and URIs pass through."""
    if is_s3(rel) or os.path.isabs(rel):
        return rel
    if is_s3(base):
        return "s3://" + str(PurePosixPath(base[len("s3://") :]) / rel)
    return str(Path(base) / rel)


def parent(uri: str) -> str:
    if is_s3(uri):
        return "s3://" + str(PurePosixPath(uri[len("s3://") :]).parent)
    return str(Path(uri).parent)


def read_bytes(uri: str) -> bytes:
    if is_s3(uri):
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_s3(uri)
        try:
            return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            raise StorageError(f"cannot read {uri}: S3 error {code}") from exc
        except BotoCoreError as exc:
            raise StorageError(
                f"cannot read {uri}: {exc} (is the S3 endpoint reachable? check AWS_ENDPOINT_URL)"
            ) from exc
    try:
        return Path(uri).read_bytes()
    except FileNotFoundError:
        raise StorageError(f"file not found: {uri}") from None
    except OSError as exc:
        raise StorageError(f"cannot read {uri}: {exc.strerror}") from exc


def iter_lines(uri: str) -> Iterator[bytes]:
    """The lines of a text file (without line endings), streamed: memory stays flat however long it is."""
    if is_s3(uri):
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_s3(uri)
        try:
            yield from s3_client().get_object(Bucket=bucket, Key=key)["Body"].iter_lines()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            raise StorageError(f"cannot read {uri}: S3 error {code}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot read {uri}: {exc} (is the S3 endpoint reachable? check AWS_ENDPOINT_URL)") from exc
        return
    try:
        with open(uri, "rb") as fh:
            for line in fh:
                yield line.rstrip(b"\r\n")
    except FileNotFoundError:
        raise StorageError(f"file not found: {uri}") from None
    except OSError as exc:
        raise StorageError(f"cannot read {uri}: {exc.strerror}") from exc


def exists(uri: str) -> bool:
    if is_s3(uri):
        from botocore.exceptions import ClientError

        bucket, key = split_s3(uri)
        try:
            s3_client().head_object(Bucket=bucket, Key=key)
            return True
        except ClientError:
            return False
    return Path(uri).is_file()


_PARTIAL_SUFFIX = ".tmp"


def write_bytes_atomic(uri: str, data: bytes) -> None:
    """Write so that readers see either the old file or the complete new one, never a partial one.

    Locally: temp file in the same folder, fsync, rename. On S3 a single PUT is already atomic.
    """
    if is_s3(uri):
        bucket, key = split_s3(uri)
        s3_client().put_object(Bucket=bucket, Key=key, Body=data)
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_PARTIAL_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_partial_writes(folder: str) -> int:
    """Delete the temp files that :func:`write_bytes_atomic` calls killed mid-write left in ``folder``
    (not recursive); returns how many. S3 leaves none. Only call it while no writer is running there."""
    if is_s3(folder) or not Path(folder).is_dir():
        return 0
    stale = [p for p in Path(folder).glob(f".*{_PARTIAL_SUFFIX}") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


def write_json_atomic(uri: str, obj: object) -> None:
    """``obj`` as indented JSON (metrics, reports) through :func:`write_bytes_atomic`."""
    write_bytes_atomic(uri, (json.dumps(obj, indent=2) + "\n").encode())


def list_files(root: str) -> list[str]:
    """Every file under the folder or S3 prefix ``root``, as sorted paths relative to it."""
    if is_s3(root):
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, prefix = split_s3(root.rstrip("/") + "/")
        try:
            pages = s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            return sorted(obj["Key"][len(prefix):] for page in pages for obj in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"cannot list {root}: {exc} (check the bucket and AWS_ENDPOINT_URL)") from exc
    base = Path(root)
    if not base.is_dir():
        raise StorageError(f"folder not found: {root}")
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())
