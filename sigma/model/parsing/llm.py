"""LLM instruction parser (paper: Qwen2.5-0.5B, few-shot, strict JSON) with rule fallback.

The model is any transformers causal LM, loaded from the local Hugging Face cache or a folder
(never downloaded: ``HF_HUB_OFFLINE=1``). Its few-shot examples are the parse-table rows most like
the instruction. Its answer must hold one JSON object: ``{"edits": [{"original", "edited",
"action"}, ...]}`` (or one such triple); anything else falls back to :class:`RuleParser`. Its
confidence is the geometric mean probability of the answer's tokens.
"""

from __future__ import annotations

import json
import math
import re

from pydantic import ValidationError

from sigma.model.parsing.base import Edit, ParsedInstruction
from sigma.model.parsing.rules import RuleParser
from sigma.model.parsing.table import TableRow, load_table

SYSTEM = (
    'Parse an image-editing instruction into JSON: {"edits": [...]}, one object per edit it asks for, '
    "in order, each with keys original (the object in the original image, or null), edited (the object "
    "in the edited image, or null) and action (one of add, remove, replace, attribute_change, move, global). "
    'An instruction that asks for no edit gives {"edits": []}. Answer with the JSON object only.'
)
TRIPLE = {"original", "edited", "action"}
WORD = re.compile(r"[a-z']+")


def answer_json(edits: tuple[tuple[str | None, str | None, str | None], ...]) -> str:
    return json.dumps({"edits": [dict(zip(("original", "edited", "action"), e, strict=True)) for e in edits]})


def few_shot(instruction: str, k: int) -> list[TableRow]:
    """The ``k`` table rows sharing most words with the instruction (ties: table order), one per
    kind first so that the examples show varied constructions."""
    words = set(WORD.findall(instruction.lower()))

    def overlap(row: TableRow) -> float:
        other = set(WORD.findall(row.text.lower()))
        return len(words & other) / max(len(words | other), 1)

    ranked = sorted((r for r in load_table() if r.text.strip()), key=overlap, reverse=True)
    chosen: list[TableRow] = []
    kinds: set[str] = set()
    for row in ranked:  # the best row of each kind, then the rest by similarity
        if row.kind not in kinds and len(chosen) < k:
            chosen.append(row)
            kinds.add(row.kind)
    chosen += [r for r in ranked if r not in chosen][: k - len(chosen)]
    return sorted(chosen, key=overlap)  # the most similar right before the question


def build_prompt(instruction: str, shots: int = 8) -> str:
    examples = "\n".join(f"Instruction: {r.text}\nJSON: {answer_json(r.edits)}" for r in few_shot(instruction, shots))
    return f"{SYSTEM}\n\n{examples}\nInstruction: {instruction}\nJSON:"


def parse_json_answer(text: str) -> ParsedInstruction | None:
    """The first JSON object in ``text`` if it is a valid parse: ``{"edits": [triple, ...]}`` or one
    triple, each triple with exactly the three keys."""
    start = text.find("{")
    if start < 0:
        return None
    try:
        obj, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError:
        return None
    if isinstance(obj, dict) and set(obj) == TRIPLE:
        obj = {"edits": [obj]}
    if not isinstance(obj, dict) or set(obj) != {"edits"} or not isinstance(obj["edits"], list) or not obj["edits"]:
        return None
    if not all(isinstance(e, dict) and set(e) == TRIPLE for e in obj["edits"]):
        return None
    try:
        return ParsedInstruction.of([Edit.model_validate(e) for e in obj["edits"]], 1.0, ("llm",))
    except ValidationError:
        return None


class LLMParser:
    """Greedy few-shot decoding; ``last_source`` says whether the LLM or the rules answered."""

    name = "llm"

    def __init__(self, model: str, max_new_tokens: int = 128, shots: int = 8, device: str | None = None):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.model = AutoModelForCausalLM.from_pretrained(model).eval()
        if device:
            self.model.to(device)
        self.max_new_tokens, self.shots = max_new_tokens, shots
        self.fallback = RuleParser()
        self.last_source = "rules"

    def generate(self, prompt: str) -> tuple[str, float]:
        """The greedy answer to ``prompt`` and its geometric mean token probability."""
        import torch

        inputs = self.tokenizer(prompt, return_tensors="pt").to(self.model.device)
        pad = self.tokenizer.eos_token_id if self.tokenizer.pad_token_id is None else self.tokenizer.pad_token_id
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=pad,
                output_scores=True,
                return_dict_in_generate=True,
            )
        new = out.sequences[0, inputs["input_ids"].shape[1] :]
        logprobs = [torch.log_softmax(s[0].float(), -1)[t].item() for s, t in zip(out.scores, new, strict=False)]
        probability = math.exp(sum(logprobs) / len(logprobs)) if logprobs else 0.0
        return str(self.tokenizer.decode(new, skip_special_tokens=True)), probability

    def parse(self, instruction: str) -> ParsedInstruction:
        if not (instruction or "").strip():
            self.last_source = "rules"
            return ParsedInstruction()
        text, probability = self.generate(build_prompt(instruction.strip(), self.shots))
        answer = parse_json_answer(text)
        self.last_source = "llm" if answer is not None else "rules"
        if answer is None:
            return self.fallback.parse(instruction)
        return answer.model_copy(update={"confidence": round(probability, 4)})
