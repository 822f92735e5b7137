"""``infra/docker-compose.yml`` read as Compose reads it (no Docker engine on the test machines): every
published port listens on loopback unless ``SIGMA_PUBLISH_ADDRESS`` says otherwise, no credential is
written in it (they come from the git-ignored ``infra/.env``), and the files it names exist."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

INFRA = ROOT / "infra"
VARIABLE = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


class MissingVariable(KeyError):
    pass


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: ``${X:-default}``, ``${X:?error}`` (unset or empty: an error), ``$$``."""

    def value(match: re.Match) -> str:
        name, kind, arg = match.groups()
        if env.get(name):
            return env[name]
        if kind == "?":
            raise MissingVariable(f"{name}: {arg}")
        return arg if kind == "-" else ""

    return VARIABLE.sub(value, text.replace("$$", "\0")).replace("\0", "$")


def example_env() -> dict[str, str]:
    lines = (INFRA / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def stack(env: dict[str, str]) -> dict:
    return yaml.safe_load(interpolate((INFRA / "docker-compose.yml").read_text(), env))


def filled() -> dict[str, str]:
    return {name: value or f"test-{name.lower()}" for name, value in example_env().items()}


def published(env: dict[str, str]) -> list[str]:
    return [port for service in stack(env)["services"].values() for port in service.get("ports", [])]


def test_every_port_is_published_on_loopback_by_default_and_elsewhere_only_on_purpose():
    env = filled()
    assert published(env) and all(port.startswith("127.0.0.1:") for port in published(env))
    env.pop("SIGMA_PUBLISH_ADDRESS")
    assert all(port.startswith("127.0.0.1:") for port in published(env))  # unset: loopback too
    assert all(port.startswith("0.0.0.0:") for port in published(env | {"SIGMA_PUBLISH_ADDRESS": "0.0.0.0"}))
    assert "ports" not in stack(filled())["services"]["postgres"]


def test_no_credential_is_written_in_the_compose_file():
    raw = (INFRA / "docker-compose.yml").read_text()
    env = filled()
    secrets = [env["SIGMA_DB_PASSWORD"], env["SIGMA_S3_SECRET_KEY"]]
    text = interpolate(raw, env)
    assert all(secret in text for secret in secrets)  # every password comes from the env file
    for blank in ("SIGMA_DB_PASSWORD", "SIGMA_S3_SECRET_KEY"):
        with pytest.raises(MissingVariable, match=blank):  # compose refuses to start without it
            interpolate(raw, env | {blank: ""})
    for service in yaml.safe_load(raw)["services"].values():
        environment = service.get("environment", {})
        for key, value in environment.items() if isinstance(environment, dict) else []:
            if re.search("PASSWORD|SECRET", key):
                assert str(value).startswith("${"), f"{key} is written in the file"


def test_the_env_file_is_ignored_and_the_example_lists_every_variable():
    ignored = subprocess.run(["git", "check-ignore", "-q", "infra/.env"], cwd=ROOT)
    assert ignored.returncode == 0, "infra/.env would be committed"
    used = set(VARIABLE.findall((INFRA / "docker-compose.yml").read_text()))
    assert {name for name, _, _ in used} == set(example_env())


def test_the_files_the_stack_builds_from_exist():
    for service in stack(filled())["services"].values():
        if build := service.get("build"):
            assert (INFRA / build["context"] / build["dockerfile"]).is_file(), build  # relative to the context
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (INFRA / source).exists(), volume


def test_make_test_brings_the_postgresql_server_the_tracking_test_needs():
    """A fresh machine without PostgreSQL gets it installed by `make test` (or the command to run), so the
    MLflow-on-PostgreSQL test runs instead of skipping."""
    dry = subprocess.run(["make", "-n", "test", "PG_BIN="], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "apt-get install -y -qq postgresql" in dry.stdout and "sudo apt-get install postgresql" in dry.stdout
