"""Tiny stand-ins of the paper's pretrained parts, written to disk the way their real weights are:
LangSAM (GroundingDINO + SAM), a causal LM for the parser, and a diffusers VAE. The loaders under test
read them exactly as they read the real ones."""

from __future__ import annotations

from pathlib import Path

import torch

from sigma.config import VaeParams
from sigma.data.vae import small_vae
from sigma.model.parsing.llm import answer_json, build_prompt
from sigma.model.parsing.table import load_table

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "a", "the", "cat", "dog", "red", "car"]
LM_SHOTS = 2
MULTI = "remove the cup and make the table red"
MULTI_EDITS = (("a cup", None, "remove"), ("a table", "red table", "attribute_change"))


def tiny_langsam(root: Path) -> tuple[str, str]:
    """``(detector_folder, segmenter_folder)`` under ``root``: a tiny random GroundingDINO (Swin + BERT)
    and SAM, both written by ``save_pretrained`` with their processors."""
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
    detector, segmenter = root / "grounding-dino", root / "sam"

    root.mkdir(parents=True, exist_ok=True)
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
    # Smallest side 128 (longest 192): the coarsest (stride-64) level keeps > 1 pixel for its GroupNorm
    # even for a letterboxed canvas up to 3:1.
    image_processor = GroundingDinoImageProcessor(size={"shortest_edge": 128, "longest_edge": 192})
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


def _tokenizer(folder):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = [build_prompt(MULTI, LM_SHOTS), answer_json(MULTI_EDITS)] + [r.text for r in load_table()]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=600, special_tokens=["<unk>", "<eos>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<eos>", pad_token="<eos>")
    fast.save_pretrained(folder)
    return fast


def tiny_causal_lm(folder, answer: str | None = None, prompt: str = "", steps: int = 300):
    """A 2-layer GPT-2 in ``folder``; with ``answer``, trained to continue ``prompt`` with it."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    Path(folder).mkdir(parents=True, exist_ok=True)
    fast = _tokenizer(folder)
    config = GPT2Config(
        vocab_size=len(fast),
        n_positions=1024,
        n_embd=64,
        n_layer=2,
        n_head=2,
        eos_token_id=fast.eos_token_id,
        bos_token_id=fast.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    if answer is not None:
        p_ids = fast(prompt)["input_ids"]
        a_ids = fast(" " + answer)["input_ids"] + [fast.eos_token_id]
        ids = torch.tensor([p_ids + a_ids])
        labels = ids.clone()
        labels[0, : len(p_ids)] = -100  # learn the answer, not the prompt
        optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
        model.train()
        for _ in range(steps):
            optimiser.zero_grad()
            model(input_ids=ids, labels=labels).loss.backward()
            optimiser.step()
    model.eval().save_pretrained(folder)  # safetensors
    return folder


def tiny_vae(folder: Path) -> str:
    """An untrained two-level AutoencoderKL saved as a diffusers folder (``vae.pretrained``)."""
    small_vae(VaeParams(block_out_channels=(8, 8), latent_channels=4)).save_pretrained(str(folder))
    return str(folder)
