"""Checkpoints: bit-exact round trips with and without the frozen pretrained parts; clear errors."""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from sigma.model.build import PRESETS, build_sigma
from sigma.model.checkpoint import (
    CheckpointError,
    load_checkpoint,
    pretrained_prefixes,
    read_metadata,
    save_checkpoint,
    weights_digest,
)


@pytest.fixture(scope="module")
def trained_model():
    """The offline preset with every trainable tensor moved off its initial value (as after training)."""
    model = build_sigma(PRESETS["sigma_offline"], load_grounder=False)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.startswith(tuple(pretrained_prefixes(model))):
                p.add_(0.01 * torch.randn(p.shape, generator=gen))
    return model.eval()


@pytest.fixture(scope="module")
def saved(trained_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    return {
        inc: save_checkpoint(
            trained_model, folder / f"sigma-{inc}.safetensors", include_pretrained=inc, extra={"run_id": "abc"}
        )
        for inc in (False, True)
    }


def test_the_grounders_vocabulary_travels_with_the_checkpoint(trained_model, saved, tmp_path):
    assert load_checkpoint(saved[False]).grounder.vocabulary is None  # none recorded: every concept trusted
    model = copy.deepcopy(trained_model)
    model.grounder.vocabulary = ("circle", "star")
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "sigma.safetensors"))
    assert loaded.grounder.vocabulary == ("circle", "star")
    assert loaded.grounder.knows("blue circle") and not loaded.grounder.knows("cat")
    # The vocabulary decides which splits are known: the same weights with and without it are different
    # annotators, and records and resumed runs tell them apart by the digest.
    assert weights_digest(loaded) != weights_digest(trained_model)


@pytest.mark.parametrize("include_pretrained", [False, True])
def test_round_trip_is_bit_exact(trained_model, saved, include_pretrained):
    loaded = load_checkpoint(saved[include_pretrained])
    assert not loaded.training
    assert loaded.config == trained_model.config
    want, got = trained_model.state_dict(), loaded.state_dict()
    assert set(got) == set(want)
    for k, v in want.items():
        assert torch.equal(got[k], v), k

    torch.manual_seed(1)
    size = trained_model.input_size
    x = torch.rand(1, 3, size, size)
    intent = torch.rand(1, 1, *trained_model.grid())
    with torch.no_grad():
        a = trained_model.forward_features(x, x.flip(-1), intent)
        b = loaded.forward_features(x, x.flip(-1), intent)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_checkpoint_contents_and_metadata(trained_model, saved):
    prefixes = tuple(pretrained_prefixes(trained_model))
    assert any(p.startswith("backbone.") for p in prefixes)
    assert any(p.startswith("grounder.text_encoder.") for p in prefixes)
    small, full = load_file(str(saved[False])), load_file(str(saved[True]))
    assert not any(k.startswith(prefixes) for k in small)
    assert any(k.startswith("backbone.") for k in full)
    # the backbone the grounder reuses is stored once
    assert not any(k.startswith("grounder.backbone.") for k in full)
    # the learned grounder head is not a pretrained part: it is always stored
    assert any(k.startswith("grounder.head.") for k in small)
    assert saved[False].stat().st_size < saved[True].stat().st_size

    meta = read_metadata(saved[True])
    assert json.loads(meta["include_pretrained"]) is True
    assert meta["run_id"] == "abc"


def test_no_tmp_file_left_behind(saved):
    for path in saved.values():
        assert not path.with_name(path.name + ".tmp").exists()


def test_non_sigma_safetensors_is_rejected(tmp_path):
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="not a SIGMA checkpoint"):
        load_checkpoint(other)


def test_non_safetensors_file_is_rejected(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"this is not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_checkpoint(junk)


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(CheckpointError, match="not found") as info:
        load_checkpoint(missing)
    assert "nope.safetensors" in str(info.value)


def test_checkpoint_that_does_not_fit_its_config(saved, tmp_path):
    path = saved[False]
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    state = load_file(str(path))
    dropped = sorted(state)[0]
    del state[dropped]
    broken = tmp_path / "broken.safetensors"
    save_file(state, str(broken), metadata=meta)
    with pytest.raises(CheckpointError, match="does not fit") as info:
        load_checkpoint(broken)
    assert dropped in str(info.value)


def test_saving_the_same_model_twice_gives_the_same_bytes(tmp_path):
    import subprocess
    import sys

    # Separate processes: the header's order must not depend on a process's hash seed.
    code = (
        "import sys, torch; from sigma.config import ModelParams; from sigma.model.build import build_sigma; "
        "from sigma.model.checkpoint import save_checkpoint; torch.manual_seed(0); "
        "m = build_sigma(ModelParams.model_validate({'backbone': {'input_size': 64}, 'dim': 16, 'heads': 2, "
        "'decoder_dim': 8, 'grounder': {'name': 'none'}}), pretrained=False, load_grounder=False); "
        "save_checkpoint(m, sys.argv[1], extra={'epoch': '3', 'note': 'x'})"
    )
    paths = [tmp_path / f"{i}.safetensors" for i in range(3)]
    for i, path in enumerate(paths):
        subprocess.run(
            [sys.executable, "-c", code, str(path)], check=True, env={**os.environ, "PYTHONHASHSEED": str(i)}
        )
    assert len({p.read_bytes() for p in paths}) == 1
    assert read_metadata(paths[0])["epoch"] == "3"


def test_a_model_fused_for_inference_annotates_alike_and_refuses_to_be_saved(trained_model, tmp_path):
    """Folding the backbone's BatchNorms (annotation runs) keeps the masks; the fused weights are no
    longer the source's, so saving them or taking their digest is an error, not a wrong file."""
    from sigma.model.checkpoint import weights_digest

    model = copy.deepcopy(trained_model)
    rng = np.random.default_rng(0)
    pair = [(rng.integers(0, 255, (40, 56, 3), np.uint8), rng.integers(0, 255, (40, 56, 3), np.uint8), "remove it")]
    ((before, _, _),) = model.iter_outputs(pair, 1)
    save_checkpoint(model.fuse_for_inference(), tmp_path / "ok.safetensors")  # trained parts only: fine
    ((after, _, _),) = model.iter_outputs(pair, 1)
    torch.testing.assert_close(after, before, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="before fusing"):
        save_checkpoint(model, tmp_path / "fused.safetensors", include_pretrained=True)
    with pytest.raises(ValueError, match="before fusing"):
        weights_digest(model)
