"""The LLM parser's real path on tiny causal LMs saved to disk by the test: loading, prompting with
table rows, greedy generation, JSON validation, multi-edit answers, confidence and the rule fallback.

A random model answers garbage; models trained here for a few hundred steps to give one fixed answer
to one prompt give a valid multi-edit answer or an invalid one on purpose."""

from __future__ import annotations

import pytest

from sigma.model.parsing.llm import LLMParser, answer_json, build_prompt, few_shot
from sigma.model.parsing.table import load_table
from tests.stand_ins import LM_SHOTS as SHOTS
from tests.stand_ins import MULTI, MULTI_EDITS, tiny_causal_lm


@pytest.fixture(scope="module")
def random_lm(tmp_path_factory):
    return tiny_causal_lm(tmp_path_factory.mktemp("random-lm"))


@pytest.fixture(scope="module")
def multi_edit_lm(tmp_path_factory):
    return tiny_causal_lm(tmp_path_factory.mktemp("multi-lm"), answer_json(MULTI_EDITS), build_prompt(MULTI, SHOTS))


@pytest.fixture(scope="module")
def invalid_answer_lm(tmp_path_factory):
    bad = '{"edits": [{"original": "a cup", "edited": null, "action": "explode"}]}'
    return tiny_causal_lm(tmp_path_factory.mktemp("bad-lm"), bad, build_prompt(MULTI, SHOTS))


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
