"""The whole DVC pipeline (dvc.yaml) on a tiny config: reproducible byte for byte, and round-tripped
through an S3 remote (moto).

``dvc repro`` of every stage in a throw-away copy of the project (dvc.yaml, a tiny params.yaml, sigma/
for the code deps, 12 built-in scenes as data/raw tracked by data.dvc), MLflow in a local SQLite store
(stage2 registers, promote sets @champion, annotate reads it).

- A fresh git clone of it, in another folder with its own (empty) MLflow store and no DVC cache, as a
  user's ``make run`` sees it: ``dvc repro`` leaves ``git status`` and ``dvc status`` clean, every
  tracked output (git's metrics and reports, every DVC-cached output) byte-identical, and a second
  ``dvc repro`` skips every stage.
- ``dvc push`` to the moto bucket (the remote that ``SIGMA_STORAGE`` selects), wipe the cache and every
  cached output, ``dvc pull``: ``dvc status`` is clean, the remote is in sync and every pulled file is
  byte-identical (md5) to what was pushed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml

from sigma.config import _set_dotted, load_params, parse_override
from tests.conftest import TINY
from tests.s3_fixtures import moto_s3  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DVC = Path(sys.executable).parent / "dvc"
SIGMA = Path(sys.executable).parent / "sigma"
BUCKET = "sigma-dvc-pipeline"
N_SCENES = 12

# On top of tests.conftest.TINY: one short epoch everywhere, a few pairs, one strength per degradation.
FAST = [
    "data.max_side=64",
    "data.inpaint.n_pairs=12",
    "data.edit.n_pairs=10",
    "data.calib.n_pairs=4",
    "data.dev.n_pairs=6",  # the real-photo benchmark (when ../shared is there): a few pairs, small
    "data.dev.max_side=96",
    "train_grounder.epochs=1",
    "train_grounder.batch_size=8",
    "stage1.epochs=1",
    "stage1.max_steps=2",
    "stage1.checkpoint_every=1000",
    "stage1.batch_size=2",
    "stage2.epochs=1",
    "stage2.max_steps=2",
    "stage2.checkpoint_every=1000",
    "stage2.batch_size=2",
    "evaluate.methods=[pixdiff_otsu, sigma]",
    "evaluate.batch_size=4",
    "evaluate.gallery_size=2",
    "evaluate.robustness.methods=[sigma, pixdiff_otsu]",
    "evaluate.robustness.jpeg_quality=[80]",
    "evaluate.robustness.noise_variance=[10]",
    "evaluate.robustness.blur_kernel=[3]",
    "annotate.batch_size=4",
    "annotate.shard_size=4",
    "annotate.write_threads=1",
    "data.downstream.n_pairs=16",  # the downstream experiment: every source, both detectors, one tiny epoch
    "data.downstream.max_side=64",
    "downstream.detectors=[{name: mobilenet_unet, kwargs: {decoder_dim: 8}}, "
    "{name: srm_unet, kwargs: {widths: [8, 8]}}]",
    "downstream.train={input_size: 32, epochs: 1, batch_size: 4}",
    "downstream.seeds=[0]",
    "downstream.all_seeds=[]",
    "downstream.processes=1",
    "downstream.benchmarks=[{name: downstream_test, loader: pairs, path: data/synth/downstream, split: test, "
    "optional: true}]",
]


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)  # carries the AWS_* variables the moto_s3 fixture set
    for name in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID", "SIGMA_PIPELINE_RUN_ID"):
        env.pop(name, None)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        PATH=f"{SIGMA.parent}{os.pathsep}{env.get('PATH', '')}",  # the stages run `sigma ...`
        HF_HUB_OFFLINE="1",
        DVC_NO_ANALYTICS="1",
        DVC_GLOBAL_CONFIG_DIR=str(home / "dvc-global"),
        DVC_SYSTEM_CONFIG_DIR=str(home / "dvc-system"),
        DVC_SITE_CACHE_DIR=str(home / "dvc-site-cache"),
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
        MLFLOW_DISABLE_TELEMETRY="true",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Sigma Test",
        GIT_AUTHOR_EMAIL="sigma-test@example.invalid",
        GIT_COMMITTER_NAME="Sigma Test",
        GIT_COMMITTER_EMAIL="sigma-test@example.invalid",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    # HOME stays: the packaged backbone / text-encoder weights may resolve through the user's caches.
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    proc = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(map(str, args))} failed ({proc.returncode}):\n{out[-12000:]}"
    return out


def _tiny_params(dest: Path) -> None:
    """/work/main/params.yaml with TINY + FAST applied, written to ``dest`` and validated."""
    tree = yaml.safe_load((ROOT / "params.yaml").read_text())
    for text in [*TINY, *FAST]:
        _set_dotted(tree, *parse_override(text))
    dest.write_text(yaml.safe_dump(tree, sort_keys=False))
    load_params(dest)  # raises on an unknown key or invalid value


def _cached_outs(stages: dict) -> list[str]:
    """Every stage output that goes to the DVC cache (``cache: false`` ones are git's)."""
    outs = []
    for stage in stages.values():
        for out in stage.get("outs", []):
            path, opts = (out, {}) if isinstance(out, str) else next(iter(out.items()))
            if (opts or {}).get("cache", True):
                outs.append(path)
    return outs


def _md5s(repo: Path, paths: list[str]) -> dict[str, str]:
    digests = {}
    for rel in paths:
        top = repo / rel
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for f in files:
            digests[f.relative_to(repo).as_posix()] = hashlib.md5(f.read_bytes()).hexdigest()
    return digests


def _skip_without_tools() -> None:
    if not DVC.exists() or not SIGMA.exists():
        pytest.skip(f"dvc/sigma not installed next to {sys.executable}")


def reproduce(root: Path) -> Path:
    """A fresh tiny project under ``root`` with its own MLflow store, after ``dvc repro``; its path."""
    from sigma.data.builtin import iter_builtin, write_coco

    repo = root / "repo"
    repo.mkdir(parents=True)
    env = _env(root)
    shutil.copy2(ROOT / "dvc.yaml", repo / "dvc.yaml")
    for name in (".dvcignore", ".gitignore"):  # .gitignore: the MLflow store and artifacts stay out of git
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, repo / name)
    shutil.copytree(ROOT / "sigma", repo / "sigma", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _tiny_params(repo / "params.yaml")
    write_coco(iter_builtin(n_scenes=N_SCENES), repo / "data" / "raw" / "builtin")
    (repo / "data" / "large_photos").mkdir()  # as in a clone: the large photos' folder, without them
    shutil.copy2(ROOT / "data" / "large_photos" / ".gitkeep", repo / "data" / "large_photos" / ".gitkeep")
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]

    git = lambda *a: _run(["git", *a], repo, env)  # noqa: E731
    git("init", "-q")
    git("config", "commit.gpgsign", "false")
    _run([DVC, "init", "-q"], repo, env)
    _run([DVC, "config", "core.analytics", "false"], repo, env)
    _run([DVC, "add", "data/raw"], repo, env)
    git("add", "-A")
    git("commit", "-q", "-m", "tiny project")

    log = _run([DVC, "repro"], repo, env, timeout=1200)
    for name in stages:
        assert f"'{name}'" in log, f"stage {name} did not run:\n{log[-4000:]}"
    for rel in (
        "reports/table1.md",
        "reports/ablation.md",
        "metrics/evaluate.json",
        "metrics/promotion.json",
        "models/stage2/sigma.safetensors",
        "data/annotated/edit/annotations.jsonl",
        "reports/downstream.md",
        "models/downstream/srm_unet/sigma/seed0.safetensors",
    ):
        assert (repo / rel).is_file(), f"{rel} missing after dvc repro"
    assert "Data and pipelines are up to date" in _run([DVC, "status"], repo, env)
    git("add", "-A")
    git("commit", "-q", "-m", "repro")
    return repo


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory) -> Path:
    _skip_without_tools()
    return reproduce(tmp_path_factory.mktemp("first"))


def _stages(repo: Path) -> dict:
    return yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]


def _tracked_outputs(repo: Path) -> list[str]:
    """Every output git or DVC tracks: the cached outputs, git's metrics and reports, data.dvc."""
    return ["data/raw", *_cached_outs(_stages(repo)), "metrics", "reports", "data.dvc", "dvc.lock"]


def test_a_fresh_clone_reproduces_every_tracked_byte_and_a_second_repro_skips_every_stage(reproduced, tmp_path):
    """A fresh clone of the reproduced copy (its own folder, an empty MLflow store, no DVC cache), as a user's
    `make run` sees it: nothing that belongs to one run (registry versions, timings, hostnames, absolute
    paths) may reach a tracked file, and stages whose real effect is outside git (the registry alias) must
    still run there."""
    from sigma.data.builtin import iter_builtin, write_coco

    env = _env(tmp_path)
    clone = tmp_path / "clone"
    _run(["git", "clone", "-q", str(reproduced), str(clone)], tmp_path, env)
    write_coco(iter_builtin(n_scenes=N_SCENES), clone / "data" / "raw" / "builtin")  # `make data` without a remote
    log = _run([DVC, "repro"], clone, env, timeout=1200)
    for name in ("stage2", "promote", "annotate"):  # registers, sets @champion in this store, reads it
        assert f"Running stage '{name}'" in log, f"{name} did not run in the clone:\n{log[-4000:]}"
    changed = _run(["git", "status", "--porcelain"], clone, env)
    assert changed == "", f"{changed}\n{_run(['git', 'diff'], clone, env)[-4000:]}"
    assert "Data and pipelines are up to date" in _run([DVC, "status"], clone, env)
    first, again = _md5s(reproduced, _tracked_outputs(reproduced)), _md5s(clone, _tracked_outputs(clone))
    assert first.keys() == again.keys()
    assert {k for k in first if first[k] != again[k]} == set()
    assert "Running stage" not in _run([DVC, "repro"], clone, env)  # the second run skips every stage


def test_dvc_pipeline_push_pull_s3(reproduced, moto_s3, tmp_path):  # noqa: F811
    repo, env = reproduced, _env(tmp_path)
    dvc = lambda *a, timeout=120: _run([DVC, *a], repo, env, timeout)  # noqa: E731
    stages = _stages(repo)
    boto3.client("s3", endpoint_url=moto_s3).create_bucket(Bucket=BUCKET)
    _run([SIGMA, "remote"], repo, env | {"SIGMA_STORAGE": f"s3://{BUCKET}/dvc"})  # server mode's one setting

    # -- push; every cached output (and data/raw) leaves the cache for the bucket --
    cached = ["data/raw", *_cached_outs(stages)]
    assert {"models/stage2/sigma.safetensors", "data/annotated/edit", "reports/gallery.html"} <= set(cached)
    pushed = _md5s(repo, cached)
    kept = _md5s(repo, ["metrics", "reports/table1.md"])  # cache: false, git's: untouched by push/pull
    dvc("push")
    keys = [
        o["Key"]
        for page in boto3.client("s3", endpoint_url=moto_s3).get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for o in page.get("Contents", [])
    ]
    assert keys and all(k.startswith("dvc/") for k in keys)
    assert "in sync" in dvc("status", "--cloud")

    # -- wipe the cache and the outputs, pull them back --
    shutil.rmtree(repo / ".dvc" / "cache")
    for rel in cached:
        path = repo / rel
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert not any((repo / rel).exists() for rel in cached)
    dvc("pull", timeout=300)

    assert "Data and pipelines are up to date" in dvc("status")
    assert "in sync" in dvc("status", "--cloud")
    assert _md5s(repo, cached) == pushed
    assert _md5s(repo, ["metrics", "reports/table1.md"]) == kept
    assert len([k for k in pushed if k.startswith("models/")]) >= 6  # grounder, vae, stage1/2, 3 ablations
