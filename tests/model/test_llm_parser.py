"""The LLM parser's real loading path on a tiny random causal LM saved to disk by the test."""

import pytest

from sigma.model.parsing.llm import LLMParser, build_prompt


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-lm")
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    tok.train_from_iterator(
        [build_prompt("remove the cat")] * 4, trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<eos>"])
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<eos>", pad_token="<eos>")
    fast.save_pretrained(folder)
    config = GPT2Config(
        vocab_size=fast.vocab_size,
        n_positions=512,
        n_embd=32,
        n_layer=2,
        n_head=2,
        eos_token_id=fast.eos_token_id,
        bos_token_id=fast.eos_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(folder)  # safetensors
    return folder


def test_random_model_output_falls_back_to_rules(tiny_lm):
    parser = LLMParser(str(tiny_lm), max_new_tokens=8)
    result = parser.parse("remove the dog")
    assert parser.last_source == "rules"
    assert result.as_tuple() == ("a dog", None, "remove")


def test_valid_json_answer_is_used(tiny_lm, monkeypatch):
    parser = LLMParser(str(tiny_lm), max_new_tokens=8)
    monkeypatch.setattr(
        parser, "generate", lambda prompt: ' {"original": "a dog", "edited": "a wolf", "action": "replace"}\n'
    )
    assert parser.parse("make the dog wild").as_tuple() == ("a dog", "a wolf", "replace")
    assert parser.last_source == "llm"


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(OSError):
        LLMParser(str(tmp_path / "no-such-model"))
