"""The LLM parser's real path on tiny causal LMs saved to disk by the test: loading, prompting with
table rows, greedy generation, JSON validation, multi-edit answers, confidence and the rule fallback.

A random model answers garbage; models trained here for a few hundred steps to give one fixed answer
to one prompt give a valid multi-edit answer or an invalid one on purpose."""

from __future__ import annotations

import pytest
import torch

from sigma.model.parsing.llm import LLMParser, answer_json, build_prompt, few_shot
from sigma.model.parsing.table import load_table

SHOTS = 2
MULTI = "remove the cup and make the table red"
MULTI_EDITS = (("a cup", None, "remove"), ("a table", "red table", "attribute_change"))


def _tokenizer(folder):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = [build_prompt(MULTI, SHOTS), answer_json(MULTI_EDITS)] + [r.text for r in load_table()]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=600, special_tokens=["<unk>", "<eos>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<eos>", pad_token="<eos>")
    fast.save_pretrained(folder)
    return fast


def _tiny_lm(folder, answer: str | None = None, prompt: str = "", steps: int = 300):
    """A 2-layer GPT-2 in ``folder``; with ``answer``, trained to continue ``prompt`` with it."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
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


@pytest.fixture(scope="module")
def random_lm(tmp_path_factory):
    return _tiny_lm(tmp_path_factory.mktemp("random-lm"))


@pytest.fixture(scope="module")
def multi_edit_lm(tmp_path_factory):
    return _tiny_lm(tmp_path_factory.mktemp("multi-lm"), answer_json(MULTI_EDITS), build_prompt(MULTI, SHOTS))


@pytest.fixture(scope="module")
def invalid_answer_lm(tmp_path_factory):
    bad = '{"edits": [{"original": "a cup", "edited": null, "action": "explode"}]}'
    return _tiny_lm(tmp_path_factory.mktemp("bad-lm"), bad, build_prompt(MULTI, SHOTS))


def test_few_shot_rows_come_from_the_table_most_similar_last():
    rows = few_shot(MULTI, 8)
    table = {r.text for r in load_table()}
    assert len(rows) == 8 and all(r.text in table for r in rows)
    assert len({r.kind for r in rows}) > 4  # varied constructions, not eight of one kind
    prompt = build_prompt(MULTI, 8)
    assert prompt.rstrip().endswith(f"Instruction: {MULTI}\nJSON:")
    assert f"Instruction: {rows[-1].text}\nJSON: {answer_json(rows[-1].edits)}" in prompt
    assert any(r.kind == "multi_edit" for r in rows)  # the multi-edit rows teach the list answer


def test_a_trained_answer_gives_every_edit_and_a_confidence(multi_edit_lm):
    parser = LLMParser(str(multi_edit_lm), max_new_tokens=64, shots=SHOTS)
    parsed = parser.parse(MULTI)
    assert parser.last_source == "llm"
    assert tuple(e.as_tuple() for e in parsed.edits) == MULTI_EDITS
    assert parsed.as_tuple() == MULTI_EDITS[0] and parsed.patterns == ("llm",)
    assert 0.5 < parsed.confidence <= 1.0  # the memorised answer is near-certain


def test_an_invalid_answer_falls_back_to_the_rules(invalid_answer_lm):
    parser = LLMParser(str(invalid_answer_lm), max_new_tokens=64, shots=SHOTS)
    assert "explode" in parser.generate(build_prompt(MULTI, SHOTS))[0]  # the model does answer it
    parsed = parser.parse(MULTI)
    assert parser.last_source == "rules"
    assert tuple(e.as_tuple() for e in parsed.edits) == MULTI_EDITS  # the rules parse both edits
    assert "llm" not in parsed.patterns


def test_random_model_output_falls_back_to_rules(random_lm):
    parser = LLMParser(str(random_lm), max_new_tokens=8, shots=SHOTS)
    result = parser.parse("remove the dog")
    assert parser.last_source == "rules"
    assert result.as_tuple() == ("a dog", None, "remove")


def test_empty_instruction_is_no_edit_without_generating(random_lm, monkeypatch):
    parser = LLMParser(str(random_lm), shots=SHOTS)
    monkeypatch.setattr(parser, "generate", lambda prompt: pytest.fail("generated for an empty instruction"))
    assert parser.parse("  ").edits == ()


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(OSError):
        LLMParser(str(tmp_path / "no-such-model"))
