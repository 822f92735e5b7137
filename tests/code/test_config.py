import os
from pathlib import Path

import pytest
import yaml

from sigma.config import ConfigError, load_params, parse_override
from tests.conftest import ROOT


def write(tmp_path: Path, tree: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


@pytest.fixture
def tree() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def test_project_params_load():
    params = load_params(ROOT / "params.yaml")
    assert params.data.edit.n_pairs > 0
    assert params.stage2.loss_weights == {"seg": 10.0, "calib": 0.1, "pl": 0.5, "dis": 0.5}


@pytest.mark.parametrize(
    "path",
    [
        ("data", "edit", "n_pair"),
        ("stage1", "learning_rate"),
        ("extra_section",),
        ("data", "calib", "perturb", "sigma"),
    ],
)
def test_unknown_key_is_rejected_with_its_dotted_name(tmp_path, tree, path):
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = 1
    with pytest.raises(ConfigError, match=rf"unknown key '{'.'.join(path)}'"):
        load_params(write(tmp_path, tree))


def test_override_sets_one_key_and_keeps_the_rest(tmp_path, tree):
    params = load_params(write(tmp_path, tree), ["data.edit.n_pairs=7", "data.split.val=0.25"])
    assert params.data.edit.n_pairs == 7
    assert params.data.split.val == 0.25
    assert params.data.inpaint.n_pairs == tree["data"]["inpaint"]["n_pairs"]


def test_override_of_unknown_key_is_rejected(tmp_path, tree):
    with pytest.raises(ConfigError, match="unknown key 'data.edit.npairs'"):
        load_params(write(tmp_path, tree), ["data.edit.npairs=3"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.edit.n_pairs=0", "greater than or equal to 1"),
        ("data.edit.perturb.strength=[0.9, 0.1]", "lo <= hi"),
        ("data.edit.edit_mix={explode: 1}", "unknown edit kinds"),
        ("data.sources=[{kind: coco}]", "needs a 'path'"),
        ("vae.norm_groups=3", "must divide every vae.block_out_channels"),
    ],
)
def test_invalid_values_name_the_problem(tmp_path, tree, override, message):
    with pytest.raises(ConfigError, match=message):
        load_params(write(tmp_path, tree), [override])


def test_malformed_override_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("data.edit.n_pairs")
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")


def test_bad_yaml_is_a_config_error(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("data: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(path)


def test_outside_a_project_the_packaged_defaults_are_the_projects_params(tmp_path, monkeypatch):
    import subprocess
    import sys

    monkeypatch.chdir(tmp_path)  # no params.yaml here
    assert load_params() == load_params(ROOT / "params.yaml")
    assert load_params(overrides=["annotate.batch_size=3"]).annotate.batch_size == 3
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "elsewhere.yaml")  # a path the user named is never replaced
    parsed = subprocess.run(
        [sys.executable, "-m", "sigma.cli", "parse", "remove the cup"], cwd=tmp_path, capture_output=True, text=True
    )
    assert parsed.returncode == 0, parsed.stderr
    assert '"remove"' in parsed.stdout


# --- profiles: one setting switches a whole run to the paper's configuration ---------------------


def test_paper_profile_lays_the_papers_values_over_params_and_set_still_wins(tmp_path, tree):
    offline = load_params(write(tmp_path, tree))
    assert offline.profile == "offline" and offline.model.backbone.name == "mobilenet_v2_imagenet"
    paper = load_params(write(tmp_path, tree | {"profile": "paper"}))
    assert paper.model.backbone.name == "dinov2_vitb14" and paper.model.backbone.input_size == 518
    assert paper.parse.name == "llm" and paper.model.grounder.name == "langsam"
    assert paper.stage1.epochs == 10 and paper.stage2.epochs == 5 and paper.stage1.mixed_precision == "bf16"
    assert {b.loader for b in paper.evaluate.benchmarks} >= {"cocoglide", "magicbrush", "autosplice", "opensdi"}
    # the profile from --set, and a --set of one of its keys on top of it
    again = load_params(write(tmp_path, tree), ["profile=paper", "stage1.epochs=2"])
    assert again.model == paper.model and again.stage1.epochs == 2
    assert paper.change_detection == offline.change_detection  # the baseline's overrides go over either model


def test_unknown_profile_names_the_known_ones(tmp_path, tree):
    with pytest.raises(ConfigError, match=r"unknown profile 'gpu'.*offline.*paper"):
        load_params(write(tmp_path, tree), ["profile=gpu"])


def test_every_dvc_stage_reruns_when_the_profile_changes():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        assert "profile" in stage.get("params", []), name
        assert "sigma/profiles" in stage.get("deps", []), name


def test_every_trained_ablation_variant_is_tracked_by_dvc():
    """A variant added to params.yaml but not to dvc.yaml would be trained, scored and never versioned."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    params = load_params(str(ROOT / "params.yaml"))
    trained = {params.ablation.checkpoint_of(v) for v in params.ablation.variants if v.model is not None}
    assert trained == {o for o in stages["ablation_train"]["outs"] if isinstance(o, str)}
    assert trained <= set(stages["ablation"]["deps"])


@pytest.mark.slow
def test_the_wheel_carries_the_defaults_and_loads_them_outside_a_checkout(tmp_path):
    """``sigma/defaults.yaml`` is a link to ``params.yaml`` in the checkout: only a built wheel shows
    that the installed package carries the file itself."""
    import shutil
    import subprocess
    import sys
    import zipfile

    source = tmp_path / "source"  # a copy: building in the checkout would leave build/ and egg-info there
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "params.yaml"):
        shutil.copy2(ROOT / name, source / name)
    for package in ("sigma", "flows"):
        shutil.copytree(ROOT / package, source / package, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=source,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = tmp_path.glob("sigma_annotator-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("sigma/defaults.yaml") == (ROOT / "params.yaml").read_bytes()
        archive.extractall(site)

    elsewhere = tmp_path / "elsewhere"  # no params.yaml, no checkout on the path
    elsewhere.mkdir()
    probe = "from sigma.config import load_params, packaged_defaults; print(packaged_defaults()); load_params()"
    loaded = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=elsewhere,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.strip() == str(site / "sigma" / "defaults.yaml")
