"""LLM instruction parser (paper: Qwen2.5-0.5B, few-shot, strict JSON) with rule fallback.

The model is any transformers causal LM, loaded from the local Hugging Face cache or a folder
(never downloaded: ``HF_HUB_OFFLINE=1``). Its output must contain one JSON object with exactly the
keys ``original``, ``edited``, ``action``; anything else falls back to :class:`RuleParser`.
"""

from __future__ import annotations

import json
import re
from typing import cast

from pydantic import ValidationError

from sigma.model.parsing.base import ParsedInstruction
from sigma.model.parsing.rules import RuleParser

FEW_SHOT = (
    ("remove the cat", {"original": "a cat", "edited": None, "action": "remove"}),
    ("add a hat on the person", {"original": None, "edited": "a hat", "action": "add"}),
    ("turn the wood into marble", {"original": "wood texture", "edited": "marble texture", "action": "replace"}),
    (
        "change the boy's grey striped t-shirt to a bright blue t-shirt",
        {"original": "grey striped t-shirt", "edited": "blue t-shirt", "action": "attribute_change"},
    ),
    ("make it more dramatic", {"original": None, "edited": None, "action": "global"}),
)
SYSTEM = (
    "Parse an image-editing instruction into JSON with keys original (the concept in the original "
    "image or null), edited (the concept in the edited image or null) and action (one of add, remove, "
    "replace, attribute_change, global). Answer with the JSON object only."
)
JSON_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)


def build_prompt(instruction: str) -> str:
    shots = "\n".join(f"Instruction: {t}\nJSON: {json.dumps(o)}" for t, o in FEW_SHOT)
    return f"{SYSTEM}\n\n{shots}\nInstruction: {instruction}\nJSON:"


def parse_json_answer(text: str) -> ParsedInstruction | None:
    """The first JSON object in ``text`` if it is a valid parse with exactly the three keys."""
    match = JSON_OBJECT.search(text)
    if not match:
        return None
    try:
        obj = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or set(obj) != {"original", "edited", "action"}:
        return None
    try:
        return ParsedInstruction.model_validate(obj)
    except ValidationError:
        return None


class LLMParser:
    """Greedy few-shot decoding; ``last_source`` says whether the LLM or the rules answered."""

    name = "llm"

    def __init__(self, model: str, max_new_tokens: int = 64, device: str | None = None):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.model = AutoModelForCausalLM.from_pretrained(model).eval()
        if device:
            self.model.to(device)
        self.max_new_tokens = max_new_tokens
        self.fallback = RuleParser()
        self.last_source = "rules"

    def generate(self, prompt: str) -> str:
        import torch

        inputs = self.tokenizer(prompt, return_tensors="pt").to(self.model.device)
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.eos_token_id
                if self.tokenizer.pad_token_id is None
                else self.tokenizer.pad_token_id,
            )
        # One sequence decodes to one string (a list only comes from a batch of sequences).
        return cast(str, self.tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True))

    def parse(self, instruction: str) -> ParsedInstruction:
        if not (instruction or "").strip():
            self.last_source = "rules"
            return ParsedInstruction()
        answer = parse_json_answer(self.generate(build_prompt(instruction.strip())))
        self.last_source = "llm" if answer is not None else "rules"
        return answer if answer is not None else self.fallback.parse(instruction)
