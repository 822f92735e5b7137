"""``SIGMA_STORAGE``: the one setting that puts the project's versioned data on S3 (server mode).

``SIGMA_STORAGE=s3://BUCKET[/PREFIX]`` makes that prefix this checkout's default DVC remote, so raw
pairs, generated data, checkpoints and the annotated corpus that ``dvc push`` / ``dvc pull`` (``make
run``, the pipeline flow's ``pull_data``) move go there. The endpoint and credentials are the standard
``AWS_ENDPOINT_URL`` (MinIO, any S3), ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``. The remote
is written to ``.dvc/config.local``: it belongs to this machine, so the committed ``.dvc/config``
(the local-folder default) stays untouched; once unset again, the committed remote is the default again.
"""

from __future__ import annotations

import os
from pathlib import Path

from sigma.data.storage import StorageError, is_s3

ENV = "SIGMA_STORAGE"
REMOTE_NAME = "sigma-storage"


def storage_root() -> str | None:
    """The ``SIGMA_STORAGE`` prefix without a trailing slash, or None when it is not set."""
    root = os.environ.get(ENV, "").strip()
    if not root:
        return None
    if not is_s3(root) or not root[len("s3://") :].split("/", 1)[0]:
        raise StorageError(
            f"{ENV}={root!r}: expected s3://BUCKET or s3://BUCKET/PREFIX (unset it for local folders; "
            "the endpoint goes in AWS_ENDPOINT_URL)"
        )
    return root.rstrip("/")


def configure_dvc_remote(repo: str | Path = ".") -> str | None:
    """Make ``SIGMA_STORAGE`` the default DVC remote of the repository at ``repo`` and return its URL;
    without ``SIGMA_STORAGE``, drop that remote if an earlier call set it and return None."""
    from dvc.config import Config
    from dvc.repo import Repo

    root = storage_root()
    config = Config(dvc_dir=Repo.find_dvc_dir(str(repo)))
    if root is None:
        if REMOTE_NAME in config.load_one("local").get("remote", {}):
            with config.edit("local") as conf:  # unset again: back to the committed remote
                del conf["remote"][REMOTE_NAME]
                if conf["core"].get("remote") == REMOTE_NAME:
                    del conf["core"]["remote"]
        return None
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    with config.edit("local") as conf:
        conf["remote"][REMOTE_NAME] = {"url": root} | ({"endpointurl": endpoint} if endpoint else {})
        conf["core"]["remote"] = REMOTE_NAME
    return root
