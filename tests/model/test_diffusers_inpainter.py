"""The diffusers inpainter's real loading path, on a tiny random pipeline the test saves to disk."""

import numpy as np
import pytest

from sigma.data.inpainters import build_inpainter


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory):
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import CLIPTextConfig, CLIPTextModel, PreTrainedTokenizerFast

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-inpaint")
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        sample_size=8,
        in_channels=9,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=2,
        norm_num_groups=4,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 16),
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        norm_num_groups=4,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
    )
    vocab = {w: i for i, w in enumerate(["<pad>", "<unk>", "<eos>", "background", ",", "empty", "scene"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", eos_token="<eos>", model_max_length=8
    )
    text = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(vocab),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=8,
            pad_token_id=0,
            eos_token_id=2,
        )
    )
    pipe = StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=text,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=DDIMScheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    return folder


def test_diffusers_inpainter_changes_only_the_region(tiny_pipeline):
    inpaint = build_inpainter("diffusers", str(tiny_pipeline), steps=2)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (30, 37, 3), dtype=np.uint8)  # not a multiple of 8 on purpose
    region = np.zeros((30, 37), bool)
    region[8:20, 10:30] = True
    out = inpaint(image, region, np.random.default_rng(1))
    assert out.shape == image.shape and out.dtype == np.uint8
    assert (out[~region] == image[~region]).all()
    assert (out[region] != image[region]).any()
    again = inpaint(image, region, np.random.default_rng(1))
    assert (again == out).all(), "same pair seed must give the same pixels"


def test_diffusers_needs_a_model():
    with pytest.raises(ValueError, match="inpaint_model"):
        build_inpainter("diffusers")
