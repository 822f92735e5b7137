"""Reading and writing bytes at local paths or ``s3://`` URIs.

S3 goes through boto3; the endpoint comes from the standard ``AWS_ENDPOINT_URL`` /
``AWS_ENDPOINT_URL_S3`` variables (MinIO, moto, ...) and retries use botocore's adaptive mode, so
transient errors (500, 503 SlowDown, timeouts) back off instead of failing a corpus run. What still
fails is a :class:`StorageError` that names the file and says what to do.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path, PurePosixPath


class StorageError(IOError):
    """A file could not be read or written; the message says which and why."""


class MissingFile(StorageError):
    """The file is not there (a local ENOENT, an S3 404)."""


class TransientStorageError(StorageError):
    """The store failed for a reason that passes (S3 5xx or throttling after the retries, an endpoint
    that cannot be reached): the file itself may be fine, so a run stops and ``--resume`` retries it
    rather than recording the file as unreadable."""


def is_s3(uri: str) -> bool:
    return str(uri).startswith("s3://")


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise StorageError(f"malformed S3 URI {uri!r}: expected s3://BUCKET/KEY")
    return bucket, key


S3_ATTEMPTS = 5  # botocore's adaptive retries: exponential backoff with jitter, client-side rate limiting


@lru_cache(maxsize=1)
def s3_client():
    import boto3
    from botocore.config import Config

    # Short connect timeout: a wrong endpoint should fail in seconds, not hang every read.
    config = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": S3_ATTEMPTS, "mode": "adaptive"})
    return boto3.client("s3", config=config)


def s3_error(action: str, uri: str, exc: Exception) -> StorageError:
    """A StorageError for a failed S3 call that says what failed and what to do."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "?")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in ("NoSuchKey", "404", "NotFound"):
            return MissingFile(f"file not found: {uri}")
        if code in ("NoSuchBucket", "AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return StorageError(f"cannot {action} {uri}: S3 error {code} (check the bucket and the credentials)")
        if status >= 500 or code in ("SlowDown", "Throttling", "RequestTimeout"):
            return TransientStorageError(
                f"cannot {action} {uri}: S3 error {code} (HTTP {status}) after {S3_ATTEMPTS} attempts with "
                "backoff: the endpoint is down or throttling; try again when it is back"
            )
        return StorageError(f"cannot {action} {uri}: S3 error {code}")
    return TransientStorageError(f"cannot {action} {uri}: {exc} (is the S3 endpoint reachable? check AWS_ENDPOINT_URL)")


def local_error(action: str, uri: str, exc: OSError) -> StorageError:
    """A StorageError for a failed local read or write, with what to do for a full or read-only disk."""
    hints = {
        errno.ENOSPC: " (the disk is full: free space or choose another folder)",
        errno.EDQUOT: " (the disk quota is exhausted: free space or choose another folder)",
        errno.EROFS: " (the file system is read-only: remount it read-write or choose another folder)",
        errno.EACCES: " (permission denied: make the folder writable or choose another one)",
        errno.EPERM: " (not permitted: make the folder writable or choose another one)",
    }
    return StorageError(f"cannot {action} {uri}: {exc.strerror or exc}{hints.get(exc.errno or 0, '')}")


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
        except (ClientError, BotoCoreError) as exc:
            raise s3_error("read", uri, exc) from exc
    try:
        return Path(uri).read_bytes()
    except FileNotFoundError:
        raise MissingFile(f"file not found: {uri}") from None
    except OSError as exc:
        raise local_error("read", uri, exc) from exc


def iter_lines(uri: str) -> Iterator[bytes]:
    """The lines of a text file (without line endings), streamed: memory stays flat however long it is."""
    if is_s3(uri):
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_s3(uri)
        try:
            yield from s3_client().get_object(Bucket=bucket, Key=key)["Body"].iter_lines()
        except (ClientError, BotoCoreError) as exc:
            raise s3_error("read", uri, exc) from exc
        return
    try:
        with open(uri, "rb") as fh:
            for line in fh:
                yield line.rstrip(b"\r\n")
    except FileNotFoundError:
        raise MissingFile(f"file not found: {uri}") from None
    except OSError as exc:
        raise local_error("read", uri, exc) from exc


def exists(uri: str) -> bool:
    """Whether the file is there; an S3 endpoint that fails (rather than answering 404) raises: a
    committed shard must never look missing because the endpoint was down."""
    if is_s3(uri):
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_s3(uri)
        try:
            s3_client().head_object(Bucket=bucket, Key=key)
            return True
        except (ClientError, BotoCoreError) as exc:
            error = s3_error("check", uri, exc)
            if isinstance(error, MissingFile):
                return False
            raise error from exc
    return Path(uri).is_file()


_PARTIAL_SUFFIX = ".tmp"


def write_bytes_atomic(uri: str, data: bytes) -> None:
    """Write so that readers see either the old file or the complete new one, never a partial one.

    Locally: temp file in the same folder, fsync, rename. On S3 a single PUT is already atomic.
    """
    if is_s3(uri):
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_s3(uri)
        try:
            s3_client().put_object(Bucket=bucket, Key=key, Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise s3_error("write", uri, exc) from exc
        return
    path = Path(uri)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_PARTIAL_SUFFIX)
    except OSError as exc:
        raise local_error("write", uri, exc) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise local_error("write", uri, exc) from exc
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
            return sorted(obj["Key"][len(prefix) :] for page in pages for obj in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise s3_error("list", root, exc) from exc
    base = Path(root)
    if not base.is_dir():
        raise StorageError(f"folder not found: {root}")
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())


def user_cache(name: str) -> Path:
    """``$XDG_CACHE_HOME/sigma/NAME`` (``~/.cache`` by default): derived files this machine can rebuild."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sigma" / name
