"""Deterministic rule-based instruction parser for common English edit phrasings.

Patterns are tried in order (global, replace, recolour, "there be", change, remove, add); the first match wins.
Concept phrases are normalised: determiners, possessives ("the boy's"), intensifiers ("bright")
and trailing locations ("on the table") are dropped, and single nouns get an article.
"""

from __future__ import annotations

import re

from sigma.data.instructions import ADJECTIVES, COLOURS, concept
from sigma.model.parsing.base import ParsedInstruction

MATERIALS = frozenset(
    [
        "wood",
        "marble",
        "stone",
        "metal",
        "glass",
        "brick",
        "concrete",
        "gold",
        "silver",
        "ice",
        "steel",
        "plastic",
        "fabric",
        "paper",
        "leather",
        "granite",
        "bronze",
        "copper",
        "clay",
    ]
)
DETERMINERS = r"(?:the|a|an|this|that|these|those|his|her|their|its|my|your|our|some|any)"
INTENSIFIERS = frozenset(["very", "really", "bright", "vivid", "vibrant"])
LOCATION = (
    r"\s+(?:on top of|in front of|to the (?:left|right) of|next to|to|on|in|at|near|beside|behind|under|"
    r"underneath|above|below|from|inside|into|onto|over|around|by|within|across|along)\b.*$"
)
WHOLE_IMAGE = (
    r"(?:it|this|everything|(?:the|this) (?:whole |entire |overall )?"
    r"(?:image|photo|photograph|picture|scene|shot|frame|view))"
)
GLOBAL_WORDS = (
    r"\b(?:filter|style|lighting|contrast|brightness|saturation|exposure|tone|mood|moodier|atmosphere|season|"
    r"weather|black and white|sepia|vintage|cinematic|dramatic|winter|summer|autumn|night|nighttime|sunset|"
    r"sunrise|daytime|golden hour|painting|watercolou?r|cartoon|anime|sketch)\b"
)
OBJECT_VERBS = r"^(?:remove|delete|erase|replace|swap|substitute|add|put|place|insert)\b"

REPLACE_PATTERNS = (
    re.compile(r"^(?:replace|exchange)\s+(?P<x>.+?)\s+(?:with|by|for)\s+(?P<y>.+)$"),
    re.compile(r"^swap\s+(?P<x>.+?)\s+(?:for|with)\s+(?P<y>.+)$"),
    re.compile(r"^substitute\s+(?P<y>.+?)\s+for\s+(?P<x>.+)$"),
)
RECOLOUR_PATTERNS = (
    re.compile(r"^(?:change|set|make)\s+the\s+colou?r\s+of\s+(?P<x>.+?)\s+(?:to|into)\s+(?P<y>.+)$"),
    re.compile(r"^(?:paint|colou?r|recolou?r|dye|tint)\s+(?P<x>.+?)\s+(?:to\s+|in\s+)?(?P<y>\S+)$"),
)
CHANGE_PATTERNS = (
    re.compile(r"^(?:change|turn|transform|convert|morph)\s+(?P<x>.+?)\s+(?:into|to be|to)\s+(?P<y>.+)$"),
    re.compile(r"^make\s+(?P<x>.+?)\s+(?:look like|into|become|be)\s+(?P<y>.+)$"),
    re.compile(r"^(?:turn|make)\s+(?P<x>.+)\s+(?P<y>\S+)$"),
    re.compile(r"^(?P<x>.+?)\s+should (?:be|become|look like)\s+(?P<y>.+)$"),
)
# Verbs that change one attribute of a named object: (pattern, how the edited object reads).
ATTRIBUTE_VERBS = {
    "bright": r"brighten|lighten",
    "dark": r"darken|dim|shade",
    "blurry": r"blur|defocus",
    "pale": r"desaturate|fade(?: the colou?rs? of)?",
}
ATTRIBUTE_PATTERNS = tuple(
    (re.compile(rf"^(?:{verbs})\s+(?P<x>.+)$"), adjective) for adjective, verbs in ATTRIBUTE_VERBS.items()
)
THERE_REMOVE = re.compile(r"^(?:there should be no|let there be no|no more)\s+(?P<x>.+)$")
THERE_ADD = re.compile(r"^(?:there should be|let there be)\s+(?P<y>.+)$")
REMOVE_PATTERNS = (
    re.compile(r"^(?:remove|delete|erase|eliminate|get rid of|take out|take away|take off|clear)\s+(?P<x>.+)$"),
)
ADD_PATTERNS = (
    re.compile(r"^give\s+\S+(?:\s+\S+)?\s+(?P<y>(?:a|an|some)\s+.+)$"),
    re.compile(r"^(?:add|put|place|insert|include|draw|paste)\s+(?P<y>.+)$"),
)


def _clean(text: str) -> str:
    text = text.lower().strip().replace("’", "'")
    text = re.sub(r"[\"“”!?.;]+", " ", text)
    text = re.sub(r"^(?:please|can you|could you|now|then|and)\s+", "", text.strip())
    text = re.sub(r"\s+(?:please)$", "", text)
    return re.sub(r"\s+", " ", text).strip(" ,")


def normalise(phrase: str, strip_location: bool = True) -> str:
    """Noun phrase -> bare concept words (no determiner, possessive, intensifier or location)."""
    phrase = phrase.strip(" ,")
    if strip_location:
        phrase = re.sub(LOCATION, "", phrase)
    phrase = re.sub(rf"^(?:{DETERMINERS}\s+)+", "", phrase)
    phrase = re.sub(r"^.*?\b\w+'s?\s+", "", phrase) if "'" in phrase else phrase
    phrase = re.sub(r"^(?:colou?r|shade)\s+of\s+", "", phrase)
    words = [w for w in phrase.split() if w not in INTENSIFIERS]
    return " ".join(words)


# A shade word before a colour ("light blue") belongs to the colour unless it ends a noun compound.
SHADES = ("light", "dark", "pale", "deep")
COMPOUNDS_ENDING_IN_SHADE = frozenset({"traffic light", "street light", "ceiling light", "night light", "lamp light"})


def _is_adjectival(words: str) -> bool:
    tokens = words.split()
    return bool(tokens) and all(t in ADJECTIVES or t.endswith("ish") for t in tokens)


def _shift_shade(x: str, y: str) -> tuple[str, str]:
    """``("the sky light", "blue")`` -> ``("the sky", "light blue")``; "traffic light" stays whole."""
    head, _, last = x.rpartition(" ")
    tail = " ".join(x.split()[-2:])
    if last in SHADES and head and y in COLOURS and tail not in COMPOUNDS_ENDING_IN_SHADE:
        return head, f"{last} {y}"
    return x, y


def _concept(words: str) -> str | None:
    if not words:
        return None
    return f"{words} texture" if words in MATERIALS else concept(words)


def _change(x: str, y: str) -> ParsedInstruction:
    """X -> Y: attribute change when Y is only adjectives or keeps X's head noun, else replace."""
    x, y = _shift_shade(x.strip(), y.strip())
    xw, yw = normalise(x), normalise(y, strip_location=False)
    if re.fullmatch(WHOLE_IMAGE, x):
        return ParsedInstruction(action="global")
    if xw in MATERIALS and yw in MATERIALS:
        return ParsedInstruction(original=_concept(xw), edited=_concept(yw), action="replace")
    y_is_noun = re.match(r"(?:a|an)\s", y) is not None  # "to a square": the shape, not the adjective
    if _is_adjectival(yw) and xw and not y_is_noun:
        return ParsedInstruction(original=_concept(xw), edited=f"{yw} {xw}", action="attribute_change")
    if yw in MATERIALS:
        return ParsedInstruction(original=_concept(xw), edited=f"{yw} {xw}", action="attribute_change")
    same_head = xw and yw and xw.split()[-1] == yw.split()[-1]
    action = "attribute_change" if same_head else "replace"
    return ParsedInstruction(original=_concept(xw), edited=_concept(yw), action=action)


class RuleParser:
    """``parse("remove the cat") -> ParsedInstruction(original="a cat", edited=None, action="remove")``."""

    name = "rules"

    def parse(self, instruction: str) -> ParsedInstruction:
        text = _clean(instruction or "")
        if not text:
            return ParsedInstruction()
        whole = re.match(rf"^(?:make|turn|convert|transform|change|render|give|set)\s+{WHOLE_IMAGE}\b", text)
        if whole or (re.search(GLOBAL_WORDS, text) and not re.match(OBJECT_VERBS, text)):
            return ParsedInstruction(action="global")
        if re.match(r"^(?:add|apply|use|increase|decrease|boost|reduce|enhance)\b", text) and re.search(
            GLOBAL_WORDS, text
        ):
            return ParsedInstruction(action="global")
        for pattern in REPLACE_PATTERNS:
            if m := pattern.match(text):
                return ParsedInstruction(
                    original=_concept(normalise(m["x"])), edited=_concept(normalise(m["y"])), action="replace"
                )
        for pattern in RECOLOUR_PATTERNS:
            m = pattern.match(text)
            yw = normalise(m["y"], False) if m else ""
            if m and yw and set(yw.split()) <= (COLOURS | ADJECTIVES):
                xw = normalise(m["x"])
                return ParsedInstruction(original=_concept(xw), edited=f"{yw} {xw}", action="attribute_change")
        for pattern, adjective in ATTRIBUTE_PATTERNS:
            if (m := pattern.match(text)) and not re.fullmatch(WHOLE_IMAGE, m["x"]):
                xw = normalise(m["x"])
                return ParsedInstruction(original=_concept(xw), edited=f"{adjective} {xw}", action="attribute_change")
        if m := THERE_REMOVE.match(text):
            return ParsedInstruction(original=_concept(normalise(m["x"])), action="remove")
        if m := THERE_ADD.match(text):
            return ParsedInstruction(edited=_concept(normalise(m["y"])), action="add")
        for pattern in CHANGE_PATTERNS:
            if m := pattern.match(text):
                return _change(m["x"], m["y"])
        for pattern in REMOVE_PATTERNS:
            if m := pattern.match(text):
                return ParsedInstruction(original=_concept(normalise(m["x"])), action="remove")
        for pattern in ADD_PATTERNS:
            if m := pattern.match(text):
                return ParsedInstruction(edited=_concept(normalise(m["y"])), action="add")
        return ParsedInstruction()
