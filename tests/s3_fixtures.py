"""Shared S3 test helpers: an in-process moto S3 server on loopback.

Import the fixture explicitly in a test module (``from tests.s3_fixtures import moto_s3``) and
mark the tests that use it ``@pytest.mark.integration``.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest

from sigma.data import storage

# Variables that would override or leak into the test credentials/endpoint.
_CLEARED_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


def set_test_aws_env(monkeypatch: pytest.MonkeyPatch, endpoint: str, config_dir) -> None:
    """Point boto3 at ``endpoint`` with dummy credentials, isolated from any real AWS config."""
    for name in _CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_dir / "aws_config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config_dir / "aws_credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def moto_s3(monkeypatch: pytest.MonkeyPatch, tmp_path_factory) -> Iterator[str]:
    """Start a moto S3 server on 127.0.0.1 (free port); yields its endpoint URL.

    The AWS_* environment points at it for the test's duration and ``storage.s3_client`` is
    rebuilt before and after so no client bound to another endpoint survives.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        set_test_aws_env(monkeypatch, endpoint, tmp_path_factory.mktemp("aws"))
        storage.s3_client.cache_clear()
        yield endpoint
    finally:
        storage.s3_client.cache_clear()
        try:  # moto keeps state in process-global backends: wipe it for the next test
            req = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
            urllib.request.urlopen(req, timeout=5).close()
        except Exception:
            pass
        server.stop()
