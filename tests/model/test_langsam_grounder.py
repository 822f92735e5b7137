"""The LangSAM grounder's real loading path, on tiny random GroundingDINO and SAM the test saves to disk."""

import pytest
import torch

from sigma.config import GrounderParams
from sigma.model.backbones.base import PretrainedPart
from sigma.model.grounding import build_grounder
from sigma.model.grounding.langsam import LangSamGrounder

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "a", "the", "cat", "dog", "red", "car"]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """``(detector_folder, segmenter_folder)``: both written by ``save_pretrained``."""
    from transformers import (
        BertConfig,
        BertTokenizerFast,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
        SamConfig,
        SamImageProcessor,
        SamMaskDecoderConfig,
        SamModel,
        SamProcessor,
        SamPromptEncoderConfig,
        SamVisionConfig,
        SwinConfig,
    )

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tiny-langsam")
    detector, segmenter = root / "grounding-dino", root / "sam"

    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(WORDS) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(vocab), model_max_length=16)
    config = GroundingDinoConfig(
        backbone_config=SwinConfig(
            image_size=64,
            patch_size=4,
            embed_dim=8,
            depths=[1, 1, 1, 1],
            num_heads=[1, 1, 1, 1],
            window_size=2,
            out_indices=[2, 3, 4],
        ),
        text_config=BertConfig(
            vocab_size=len(WORDS),
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=32,
        ),
        # d_model: a multiple of 32 (GroupNorm(32, d_model)); decoder_layers >= 2 (the box heads of layers
        # 1.. are tied to layer 0's, and transformers rejects a tie with nothing to tie to).
        d_model=32,
        encoder_layers=1,
        decoder_layers=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_n_points=1,
        decoder_n_points=1,
        num_queries=8,
        max_text_len=16,
    )
    model = GroundingDinoForObjectDetection(config)
    # Random weights saturate the box scores at ~1.0; a zero decoder norm makes every class logit 0,
    # so every query scores exactly sigmoid(0) = 0.5 and the threshold tests below are exact.
    torch.nn.init.zeros_(model.model.decoder.layer_norm.weight)
    torch.nn.init.zeros_(model.model.decoder.layer_norm.bias)
    model.save_pretrained(detector)
    # Smallest side 64: the coarsest (stride-64) level must keep > 1 pixel for its GroupNorm.
    image_processor = GroundingDinoImageProcessor(size={"shortest_edge": 64, "longest_edge": 96})
    GroundingDinoProcessor(image_processor, tokenizer).save_pretrained(detector)

    sam = SamModel(
        SamConfig(
            # num_pos_feats = output_channels / 2: the prompt encoder's position code has output_channels dims.
            vision_config=SamVisionConfig(
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=2,
                mlp_dim=64,
                image_size=64,
                patch_size=8,
                output_channels=16,
                num_pos_feats=8,
                window_size=2,
                global_attn_indexes=[1],
            ),
            prompt_encoder_config=SamPromptEncoderConfig(
                hidden_size=16, image_size=64, patch_size=8, mask_input_channels=4
            ),
            mask_decoder_config=SamMaskDecoderConfig(
                hidden_size=16, num_hidden_layers=1, num_attention_heads=2, mlp_dim=32, iou_head_hidden_dim=16
            ),
        )
    )
    sam.save_pretrained(segmenter)
    SamProcessor(SamImageProcessor(size={"longest_edge": 64}, pad_size={"height": 64, "width": 64})).save_pretrained(
        segmenter
    )
    return str(detector), str(segmenter)


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
