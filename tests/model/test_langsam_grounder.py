"""The LangSAM grounder's real loading path, on tiny random GroundingDINO and SAM the test saves to disk."""

import pytest
import torch

from sigma.config import GrounderParams
from sigma.model.backbones.base import PretrainedPart
from sigma.model.grounding import build_grounder
from sigma.model.grounding.langsam import LangSamGrounder
from tests.stand_ins import tiny_langsam


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    return tiny_langsam(tmp_path_factory.mktemp("tiny-langsam"))


@pytest.fixture
def images():
    return torch.rand(3, 3, 40, 52, generator=torch.Generator().manual_seed(0))  # not square on purpose


def test_found_concepts_give_input_sized_maps(tiny_models, images):
    grounder = LangSamGrounder(*tiny_models, box_threshold=0.0001, text_threshold=0.0001)
    assert grounder._models == {}, "models load on the first ground(), not when built"
    maps = grounder.ground(images, ["a cat", "Red Car", "dog."])
    assert len(maps) == 3
    for m in maps:
        assert m is not None and m.shape == (40, 52) and m.dtype == torch.float32
        assert 0 <= m.min() <= m.max() <= 1
    # The loaded models stay out of the state dict (checkpoints rebuild them from their source).
    assert isinstance(grounder, PretrainedPart) and not grounder.training
    assert list(grounder.state_dict()) == [] and not any(p.requires_grad for p in grounder._models["sam"].parameters())


def test_nothing_found_is_none(tiny_models, images):
    grounder = LangSamGrounder(*tiny_models, box_threshold=0.9999)
    assert grounder.ground(images[:2], ["a cat", "the dog"]) == [None, None]


def test_missing_weights_say_where_they_go(tmp_path, images):
    grounder = LangSamGrounder(str(tmp_path / "no-such-model"), "facebook/sam-vit-base")
    with pytest.raises(FileNotFoundError, match=r"model\.grounder\.detector.*Hugging Face cache"):
        grounder.ground(images[:1], ["a cat"])


def test_missing_segmenter_names_its_key(tiny_models, tmp_path, images):
    grounder = LangSamGrounder(tiny_models[0], str(tmp_path / "no-such-sam"))
    with pytest.raises(FileNotFoundError, match=r"model\.grounder\.segmenter"):
        grounder.ground(images[:1], ["a cat"])


def test_built_by_name(tiny_models, images):
    params = GrounderParams(name="langsam", detector=tiny_models[0], segmenter=tiny_models[1], box_threshold=0.001)
    grounder = build_grounder(params, backbone=None)
    assert isinstance(grounder, LangSamGrounder) and grounder.box_threshold == 0.001
    (m,) = grounder.ground(images[:1], ["a red car"])
    assert m is not None and m.shape == (40, 52)
