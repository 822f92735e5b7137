"""Detector behaviour: every registered detector keeps shapes and round-trips its checkpoint; training
reads the IMDL-BenCo files only; a detector trained on the truth beats one trained on empty labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sigma.config import DetectorSpec, DetectorTrainParams
from sigma.data.images import encode_png
from sigma.eval.metrics import PixelScores
from sigma.model.detectors import DETECTORS, build_detector, load_detector, save_detector
from sigma.model.detectors.checkpoint import DetectorCheckpointError
from sigma.train.detector import ImdlJsonError, train_detector


@pytest.mark.parametrize("name", DETECTORS.names())
def test_every_detector_maps_images_to_masks_at_their_own_size(name, tmp_path):
    torch.manual_seed(0)
    model = build_detector(name, 64)
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 1, 64, 64)
    images = [np.zeros((37, 53, 3), np.uint8), np.full((61, 29, 3), 200, np.uint8)]
    assert [p.shape for p in model.predict(images)] == [(37, 53), (61, 29)]
    path = save_detector(model, tmp_path / "d.safetensors", name, {}, {"label_source": "truth"})
    again = load_detector(path, device="cpu")
    for image, a, b in zip(images, model.predict(images), again.predict(images), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6, err_msg=f"{image.shape}: the checkpoint changed the predictions")


def test_a_file_that_is_not_a_detector_checkpoint_is_refused(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(DetectorCheckpointError, match="not a detector checkpoint"):
        load_detector(tmp_path / "x.safetensors")


def square_corpus(root: Path, n: int, seed: int) -> list[tuple[str, np.ndarray]]:
    """Noise images each with one flat-coloured square pasted in: ``[(edited image path, truth mask)]``."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    out = []
    for i in range(n):
        image = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
        mask = np.zeros((48, 48), bool)
        y, x, side = rng.integers(0, 24), rng.integers(0, 24), rng.integers(14, 24)
        mask[y : y + side, x : x + side] = True
        image[mask] = rng.integers(0, 256, 3, dtype=np.uint8)
        (root / "images" / f"{seed}-{i}.png").write_bytes(encode_png(image))
        (root / "masks" / f"{seed}-{i}.png").write_bytes(encode_png(mask))
        out.append((f"images/{seed}-{i}.png", mask))
    return out


def write_imdl(path: Path, entries: list[list[str]]) -> Path:
    path.write_text(json.dumps(entries))
    return path


RECIPE = DetectorTrainParams(input_size=48, epochs=12, batch_size=8, lr=3e-3, flip=False)
SPEC = DetectorSpec(name="mobilenet_unet", kwargs={"decoder_dim": 8})


def f1_on(weights: Path, root: Path, test: list[tuple[str, np.ndarray]]) -> float:
    from PIL import Image

    model = load_detector(weights, device="cpu")
    images = [np.asarray(Image.open(root / path).convert("RGB")) for path, _ in test]
    acc = PixelScores()
    for prob, (_, mask) in zip(model.predict(images), test, strict=True):
        acc.add(prob > 0.5, mask)
    return acc.summary()["f1"]


@pytest.mark.parametrize("name", DETECTORS.names())
def test_a_detector_trained_on_the_truth_beats_one_trained_on_empty_labels(name, tmp_path):
    root = tmp_path / "corpus"
    train, test = square_corpus(root, 48, seed=1), square_corpus(root, 16, seed=2)
    truth = write_imdl(root / "truth.json", [[p, f"masks/{Path(p).name}"] for p, _ in train])
    empty = write_imdl(root / "empty.json", [[p, "Negative"] for p, _ in train])
    for source, labels in (("truth", truth), ("empty", empty)):
        spec = DetectorSpec(name=name)
        train_detector(spec, RECIPE, labels, None, tmp_path / f"{source}.safetensors", seed=0, track=False)
    truth_f1 = f1_on(tmp_path / "truth.safetensors", root, test)
    empty_f1 = f1_on(tmp_path / "empty.safetensors", root, test)
    assert truth_f1 > empty_f1 + 0.3, (truth_f1, empty_f1)


def test_training_reads_the_imdlbenco_files_and_names_a_bad_entry(tmp_path):
    root = tmp_path / "corpus"
    train = square_corpus(root, 4, seed=3)
    entries = [[str(root / p), f"masks/{Path(p).name}"] for p, _ in train]  # absolute and relative paths mix
    labels = write_imdl(root / "labels.json", entries)
    summary = train_detector(
        SPEC, RECIPE.model_copy(update={"epochs": 1}), labels, None, tmp_path / "d.st", track=False
    )
    assert summary["n_train"] == 4 and summary["n_train_manipulated"] == 4

    (root / "masks" / Path(train[0][0]).name).unlink()  # the masks come from the files, nowhere else
    with pytest.raises(ImdlJsonError, match=f"labels.json, entry 0: .*{Path(train[0][0]).name}"):
        train_detector(SPEC, RECIPE, labels, None, tmp_path / "d.st", track=False)
    write_imdl(labels, [["only-one-path"]])
    with pytest.raises(ImdlJsonError, match="entry 0"):
        train_detector(SPEC, RECIPE, labels, None, tmp_path / "d.st", track=False)


def test_frozen_stages_keep_their_loaded_weights_and_statistics_through_training(tmp_path):
    root = tmp_path / "corpus"
    train = square_corpus(root, 8, seed=4)
    labels = write_imdl(root / "labels.json", [[p, f"masks/{Path(p).name}"] for p, _ in train])
    spec = DetectorSpec(name="mobilenet_unet", kwargs={"decoder_dim": 8, "frozen_stages": 2})
    recipe = RECIPE.model_copy(update={"epochs": 1})
    train_detector(spec, recipe, labels, None, tmp_path / "d.st", seed=0, track=False)
    loaded = build_detector("mobilenet_unet", 48, decoder_dim=8, frozen_stages=2).state_dict()
    trained = load_detector(tmp_path / "d.st", device="cpu").state_dict()
    stage = {k: k.startswith(("stages.0.", "stages.1.")) for k in loaded}
    assert all(torch.equal(loaded[k], trained[k]) for k in loaded if stage[k])  # running stats included
    assert not all(torch.equal(loaded[k], trained[k]) for k in loaded if not stage[k])
    with pytest.raises(ValueError, match="frozen_stages"):
        build_detector("mobilenet_unet", 48, frozen_stages=9)
