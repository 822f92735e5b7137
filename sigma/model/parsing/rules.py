"""Deterministic rule parser: ordered, named patterns over the clauses of an instruction.

An instruction is cleaned (case, quotes, politeness), split into clauses ("remove the cup and make
the table red" is two), and each clause goes through :data:`PATTERNS` in order; the first that
applies wins. A pattern either builds the clause's edits or *rewrites* the clause into a plainer
one that is parsed again ("what if the car was red" -> "the car should be red"). Each pattern has a
confidence and its own examples; the parse table (``table.yaml``) holds the rest. A new phrasing
means a new pattern plus its rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sigma.data.instructions import ADJECTIVES, COLOURS
from sigma.model.parsing import edits as build
from sigma.model.parsing.base import Edit, ParsedInstruction
from sigma.model.parsing.lexicon import GERUNDS, STYLE_NOUNS, VERB_STATES
from sigma.model.parsing.phrases import (
    clean,
    is_adjectival,
    normalise,
    repair_verb,
    shift_shade,
    split_clauses,
    strip_opener,
)

Result = list[Edit] | str | None


@dataclass(frozen=True)
class Pattern:
    """``build(match)`` returns the clause's edits, a rewritten clause to parse again, or ``None``
    (the pattern does not apply after all; the next one is tried)."""

    name: str
    regexes: tuple[str, ...]
    build: Callable[[re.Match], Result]
    confidence: float
    examples: tuple[str, ...]

    def apply(self, clause: str) -> Result:
        for regex in self.regexes:
            if (match := re.match(regex, clause)) and (result := self.build(match)) is not None:
                return result
        return None


def _base_verb(text: str) -> str:
    first, _, rest = text.partition(" ")
    return f"{GERUNDS.get(first, first)} {rest}".strip()


def _to_should(statement: str) -> str | None:
    """A counterfactual's statement as a wish: "the car was red" -> "the car should be red"."""
    s = statement.strip()
    if m := re.match(r"^there(?:'s|\s+is|\s+are|\s+was|\s+were)\s+(?P<r>.+)$", s):
        return f"there should be {m['r']}"
    if m := re.match(r"^(?P<x>.+?)\s+(?:wasn't|weren't|isn't|aren't|was not|were not)\s+(?P<r>.+)$", s):
        return f"{m['x']} should not be {m['r']}"
    if m := re.match(r"^(?P<x>.+?)\s+(?:was|were|is|are)\s+(?P<r>.+)$", s):
        return f"{m['x']} should be {m['r']}"
    if m := re.match(r"^(?P<x>.+?)\s+(?:had|has)\s+(?P<r>.+)$", s):
        return f"{m['x']} should have {m['r']}"
    return None


def _instead_attribute(m: re.Match) -> Result:
    if is_adjectival(m["a"]) and is_adjectival(m["b"]):
        x = normalise(m["x"])
        return [Edit(original=f"{m['a']} {x}", edited=f"{m['b']} {x}", action="attribute_change")]
    return None


def _before_after(m: re.Match) -> Result:
    x = re.sub(r"'s?\s+(?:colou?r|shade|tone)$", "", m["x"])
    x = normalise(x)
    a, b = normalise(m["a"], False), normalise(m["b"], False)
    if re.match(r"(?:a|an)\s", m["b"]) or not (is_adjectival(a) or a in build.MATERIALS):
        return build.replaced(m["a"], m["b"])
    return [Edit(original=f"{a} {x}", edited=f"{b} {x}", action="attribute_change")]


def _verb_state(m: re.Match) -> Result:
    state = VERB_STATES.get(m["v"])
    return build.attributed(m["x"], state) if state else None


def _give(m: re.Match) -> Result:
    split = build.split_recipient(m["rest"])
    return build.owned(*split) if split else None


def _recolour(m: re.Match) -> Result:
    x, y = shift_shade(m["x"], m["y"])  # "paint the car light blue", but "paint the traffic light red"
    y = normalise(y, False)
    return build.attributed(x, y) if y and set(y.split()) <= (COLOURS | ADJECTIVES) else None


def _attribute_verb(adjective: str) -> Callable[[re.Match], Result]:
    return lambda m: None if build.is_whole_image(m["x"]) else build.attributed(m["x"], adjective)


def _bare_attribute(m: re.Match) -> Result:
    """ "make the cake chocolate": a bare word after the object is an attribute of it."""
    if build.is_whole_image(m["x"]):
        return None  # "make it better": no object, and no global edit that says what
    return build.changed(m["x"], m["y"]) if is_adjectival(m["y"]) else build.attributed(m["x"], m["y"])


REMOVE_VERBS = (
    r"remove|delete|erase|eliminate|get rid of|take out|take away|take off|clear|wipe out|wipe off|wipe away|"
    r"lose|ditch|cut out|hide"
)
ADD_VERBS = r"add|put|place|insert|include|draw|paste|drop|hang|stick|show|bring in"
MOVE_VERBS = r"move|shift|slide|drag|push|pull|relocate|reposition|nudge"
DUPLICATE_VERBS = r"duplicate|clone|copy|replicate|double|mirror copy"
# Where an object goes: what ends the object phrase after a move or copy verb.
PLACEMENT = (
    r"(?:to|towards?|into|onto|over|across|closer|further|farther|away|next to|beside|near|behind|under|above|"
    r"below|in front|a bit|a little|slightly|more|up|down|upwards|downwards|left|right|forward|back|so that)"
)
ATTRIBUTE_VERBS = {
    "bright": r"brighten|lighten",
    "dark": r"darken|dim|shade",
    "blurry": r"blur|defocus",
    "pale": r"desaturate|fade(?: the colou?rs? of)?",
}
OBJECT = r"(?P<x>.+?)"

PATTERNS: tuple[Pattern, ...] = (
    # -- rewrites: plainer clauses, parsed again ------------------------------------------------
    Pattern(
        "polite",
        (
            r"^(?:please|kindly|can you|could you|would you(?: please)?(?: mind)?|will you|"
            r"would it be possible to|is it possible(?: for you)? to|i'?d like you to|i would like you to|"
            r"i want you to|i need you to|let'?s|why not|why don'?t you|how about|try to|try and|go ahead and|"
            r"is there (?:any |a )?way to|(?:i'?d|i would) love (?:it )?if you could|it would be (?:great|nice) if you "
            r"could|if you could|(?:i'?d|i would) love you to)\s+(?P<rest>.+)$",
        ),
        lambda m: _base_verb(m["rest"]),
        1.0,
        ("please remove the dog", "would you mind replacing the bike with a scooter", "let's add a fireplace"),
    ),
    Pattern(
        "counterfactual",
        (
            r"^what (?:would|will) (?P<x>.+?) look like with (?P<y>.+)$",
            r"^(?:what|how)\b.*?\bif\s+(?P<s>.+)$",
            r"^(?:imagine|suppose|picture)(?: that| if)?\s+(?P<s>.+)$",
        ),
        lambda m: _to_should(m["s"]) if "s" in m.groupdict() else f"give {m['x']} {m['y']}",
        0.9,
        ("what if the car was red", "what would the man look like with a hat", "imagine the sky were green"),
    ),
    Pattern(
        "question",
        (
            r"^(?:can|could|should|would|will|might|may)\s+(?:we|i|you)\s+(?:have|get|see)\s+(?P<y>.+)$",
            r"^(?:can|could|should|would|will|might|may)\s+(?P<x>.+?)\s+(?P<v>be|become|look like|have)\s+(?P<y>.+)$",
        ),
        lambda m: f"{m['x']} should {m['v']} {m['y']}" if "x" in m.groupdict() else f"add {m['y']}",
        0.95,
        ("could the dog be a cat", "can we have a snowman in the yard", "could there be a bird on the fence"),
    ),
    Pattern(
        "wish",
        (
            r"^(?:i|we)\s+(?:don'?t|do not)\s+want\s+(?:to see\s+|to have\s+)?(?P<gone>.+)$",
            r"^(?:i|we)(?:'d| would)?\s+(?:want|like|need|prefer)\s+(?P<x>.+?)\s+to\s+(?P<v>be|become|look like|have)"
            r"\s+(?P<y>.+)$",
            r"^(?:i|we)(?:'d| would)?\s+(?:want|like|need|prefer)\s+(?P<new>.+)$",
        ),
        lambda m: (
            f"remove {m['gone']}"
            if m.groupdict().get("gone")
            else f"add {m['new']}"
            if m.groupdict().get("new")
            else f"{m['x']} should {m['v']} {m['y']}"
        ),
        0.95,
        ("i don't want the lamp in the picture", "i'd like the car to be red", "i want a dog on the beach"),
    ),
    Pattern(
        "make_it_so",
        (r"^make (?:it so|sure)(?: that)?\s+(?P<s>.+)$",),
        lambda m: m["s"],
        1.0,
        ("make it so there is no fence",),
    ),
    # -- edits --------------------------------------------------------------------------------
    Pattern(
        "move",
        (rf"^(?:{MOVE_VERBS})\s+(?P<x>.+?)(?:\s+{PLACEMENT}\b.*)?$",),
        lambda m: build.moved(m["x"]),
        0.95,
        ("move the cat to the left", "shift the lamp a bit right", "drag the chair closer to the table"),
    ),
    Pattern(
        "duplicate",
        (
            rf"^(?:{DUPLICATE_VERBS})\s+(?P<x>.+?)(?:\s+{PLACEMENT}\b.*|\s+(?:next to|beside) it)?$",
            r"^(?:make|create|add)\s+(?:a|one more|another)\s+(?:copy|duplicate|clone) of\s+(?P<x>.+)$",
            r"^add (?:another|one more|a second)\s+(?P<x>.+)$",
        ),
        lambda m: build.duplicated(m["x"]),
        0.95,
        ("duplicate the vase", "make a copy of the bird", "add another chair"),
    ),
    Pattern(
        "instead_of",
        (
            r"^(?:make|paint|colou?r|turn|dye)\s+(?P<x>.+)\s+(?P<b>\S+)\s+(?:instead of|rather than)\s+(?P<a>\S+)$",
            r"^(?:(?:put|use|show|have|place|add|draw|insert)\s+|(?:let|have|make|get)\s+.+?\s+(?:to\s+)?"
            r"(?:hold|wear|carry|have|use|ride|eat|drink)\s+)?(?P<y>.+?)\s+(?:instead of|rather than|in place of)"
            r"\s+(?P<x>.+)$",
            r"^(?P<x>.+?)\s+should (?:be|become)\s+(?P<y>.+?)\s+instead$",
        ),
        lambda m: _instead_attribute(m) if "b" in m.groupdict() else build.replaced(m["x"], m["y"]),
        0.95,
        ("put a cat instead of the dog", "make the car blue instead of red", "the dog should be a cat instead"),
    ),
    Pattern(
        "before_after",
        (
            r"^(?:change|turn|switch|recolou?r|make|paint|colou?r)\s+(?P<x>.+?)\s+from\s+(?P<a>.+?)\s+to\s+(?P<b>.+)$",
            r"^(?P<x>.+?)\s+(?:goes|go|should go|changes?|should change|turns?)\s+from\s+(?P<a>.+?)\s+to\s+(?P<b>.+)$",
        ),
        _before_after,
        0.95,
        ("change the shirt from red to blue", "change the dog from a poodle to a husky"),
    ),
    Pattern(
        "global",
        (r"^(?P<all>.+)$",),
        lambda m: [Edit(action="global")] if build.is_global(m["all"]) else None,
        0.9,
        ("make it look like winter", "increase the contrast", "convert the photo to black and white"),
    ),
    Pattern(
        "negated_presence",
        (
            r"^(?:there should be no|there shouldn't be any|there should not be any|there must be no|"
            r"let there be no|no more|there is no|there are no|there's no|no)\s+(?P<x>.+)$",
            r"^(?P<x>.+?)\s+(?:should not|shouldn't|must not|mustn't|does not need to|doesn't need to)\s+be\s+"
            r"(?:there|here|visible|(?:in|on|at|near|by)\s+.+)$",
            r"^(?P<x>.+?)\s+(?:should|must|needs to|has to)\s+(?:be gone|disappear|vanish|go away|be removed|"
            r"be deleted|be erased)$",
            r"^(?:(?:show|keep)\s+.+?\s+|(?:the same |this )?(?:photo|image|picture|scene)\s+)?without\s+(?:any\s+)?"
            r"(?P<x>.+)$",
        ),
        lambda m: build.removed(m["x"]),
        0.95,
        ("there should be no birds", "the dog should not be there", "the same photo without the car"),
    ),
    Pattern(
        "there_is",
        (r"^(?:there should be|let there be|there is|there's|there are|there must be)\s+(?P<y>.+)$",),
        lambda m: build.added(m["y"]),
        0.95,
        ("there should be a cat on the bed", "let there be a rainbow in the sky"),
    ),
    Pattern(
        "replace",
        (
            r"^(?:replace|exchange)\s+(?P<x>.+?)\s+(?:with|by|for)\s+(?P<y>.+)$",
            r"^(?:swap|switch|trade)\s+(?P<x>.+?)\s+(?:for|with|to)\s+(?P<y>.+)$",
            r"^substitute\s+(?P<y>.+?)\s+for\s+(?P<x>.+)$",
        ),
        lambda m: build.replaced(m["x"], m["y"]),
        0.95,
        ("replace the dog with a cat", "swap the apple for an orange", "substitute a horse for the cow"),
    ),
    Pattern(
        "local_style",
        (
            rf"^(?:give|add)\s+{OBJECT}\s+(?:a|an)\s+(?P<s>.+?)\s+{STYLE_NOUNS}$",
            r"^render\s+(?P<x>.+?)\s+in\s+(?:an?\s+)?(?P<s>.+?)\s+style$",
            rf"^(?:apply|add|use)\s+(?:a\s+|an\s+)?(?P<s>.+?)\s+{STYLE_NOUNS}\s+(?:to|on)\s+(?P<x>.+)$",
            rf"^(?:turn|convert|transform|change|make)\s+{OBJECT}\s+into\s+(?:a|an)\s+(?P<s>.+?)\s+{STYLE_NOUNS}$",
            r"^(?:turn|convert|transform|change|make)\s+(?P<x>.+?)\s+into\s+(?:a|an)\s+"
            r"(?P<s>cartoon|sketch|painting|drawing|illustration|watercolou?r|anime|caricature)$",
        ),
        lambda m: None if build.is_whole_image(m["x"]) else build.attributed(m["x"], m["s"]),
        0.85,
        ("give the building a cartoon style", "apply a sepia filter to the car", "render the cat in anime style"),
    ),
    Pattern(
        "look_like",
        (r"^(?:make|have|let)\s+(?:only\s+)?(?P<x>.+?)\s+look\s+(?:like\s+)?(?P<y>.+)$",),
        lambda m: build.looks_like(m["x"], m["y"]),
        0.85,
        ("make the car look vintage", "make the dog look like a wolf", "make the man look angry"),
    ),
    Pattern(
        "causative",
        (
            r"^(?:have|let|get)\s+(?P<x>.+?)\s+(?:to\s+)?(?:be|become|turn into)\s+(?P<y>.+)$",
            r"^(?:have|let|get|make)\s+(?P<x>.+?)\s+(?:to\s+)?(?:wear|hold|carry|have|grab|use|eat|drink|ride|"
            r"play with|put on)\s+(?P<owned>.+)$",
        ),
        lambda m: build.owned(m["x"], m["owned"]) if m.groupdict().get("owned") else build.changed(m["x"], m["y"]),
        0.85,
        ("have the dog be a cat", "have the man wear a hat", "let the boy have short hair"),
    ),
    Pattern(
        "verb_attribute",
        (r"^(?:make|have|let|get)\s+(?P<x>.+?)\s+(?:to\s+)?(?P<v>\w+)$",),
        _verb_state,
        0.85,
        ("make the man smile", "let the cat sleep", "make the lamp glow"),
    ),
    Pattern(
        "possession",
        (r"^give\s+(?P<rest>.+)$", r"^(?P<x>.+?)\s+should\s+have\s+(?P<owned>.+)$"),
        lambda m: _give(m) if "rest" in m.groupdict() else build.owned(m["x"], m["owned"]),
        0.85,
        ("give the woman curly hair", "give the man a hat", "the dog should have black fur"),
    ),
    Pattern(
        "should_be",
        (
            r"^(?P<x>.+?)\s+(?:should|must|needs? to|has to|have to|ought to|shall)\s+(?:be|become|look like|"
            r"turn into)\s+(?P<y>.+)$",
        ),
        lambda m: build.changed(m["x"], m["y"]),
        0.9,
        ("the sky should be purple", "the car should be a truck", "the dog needs to be brown"),
    ),
    Pattern(
        "recolour",
        (
            r"^(?:change|set|make)\s+the\s+colou?r\s+of\s+(?P<x>.+?)\s+(?:to|into)\s+(?P<y>.+)$",
            r"^(?:paint|colou?r|recolou?r|dye|tint)\s+(?P<x>.+?)\s+(?:to\s+|in\s+)?(?P<y>\S+)$",
        ),
        _recolour,
        0.95,
        ("change the colour of the bus to green", "paint the fence white", "recolor the umbrella to yellow"),
    ),
    *(
        Pattern(f"attribute_{adjective}", (rf"^(?:{verbs})\s+(?P<x>.+)$",), _attribute_verb(adjective), 0.95, ())
        for adjective, verbs in ATTRIBUTE_VERBS.items()
    ),
    Pattern(
        "change_to",
        (
            r"^(?:change|turn|transform|convert|morph)\s+(?P<x>.+?)\s+(?:into|to be|to)\s+(?P<y>.+)$",
            r"^make\s+(?P<x>.+?)\s+(?:into|become|be)\s+(?P<y>.+)$",
        ),
        lambda m: build.changed(m["x"], m["y"]),
        0.9,
        ("turn the cat into a tiger", "change the car to a bus", "turn the table into marble"),
    ),
    Pattern(
        "make_x_y",
        (r"^(?:make|turn)\s+(?P<x>.+?)\s+(?:a|an)\s+(?P<noun>.+)$", r"^(?:turn|make)\s+(?P<x>.+)\s+(?P<y>\S+)$"),
        lambda m: build.replaced(m["x"], m["noun"]) if m.groupdict().get("noun") else _bare_attribute(m),
        0.8,
        ("make the car red", "make the cake chocolate", "make the tree bigger"),
    ),
    Pattern(
        "remove",
        (
            rf"^(?:{REMOVE_VERBS})\s+(?P<x>.+)$",
            r"^(?:cut|take|wipe|rub)\s+(?P<x>.+?)\s+(?:out|off|away)\b.*$",
        ),
        lambda m: build.removed(m["x"]),
        0.95,
        ("remove the cat", "get rid of the umbrella", "cut the tree out of the photo"),
    ),
    Pattern(
        "add",
        (rf"^(?:{ADD_VERBS})\s+(?P<y>.+)$",),
        lambda m: build.added(m["y"]),
        0.95,
        ("add a hat on the person", "put a vase in the picture", "drop a ball on the grass"),
    ),
)
MAX_REWRITES = 4
VAGUE_CONFIDENCE = 0.3  # an edit whose object is "it" or "that": right action, nothing to ground


def _edit_confidence(edit: Edit) -> float:
    needs = {"remove": ("original",), "add": ("edited",), "replace": ("original", "edited")}
    needs["attribute_change"] = needs["move"] = ("original",)
    if any(getattr(edit, slot) is None for slot in needs.get(edit.action, ())):
        return VAGUE_CONFIDENCE
    longest = max((len(c.split()) for c in (edit.original, edit.edited) if c), default=0)
    return 0.8 if longest > 4 else 1.0


class RuleParser:
    """``parse("remove the cat and add a dog")`` -> two edits, a confidence and the patterns used."""

    name = "rules"
    patterns = PATTERNS

    def parse_clause(self, clause: str) -> tuple[list[Edit], float, tuple[str, ...]]:
        """One clause -> its edits, confidence and the names of the patterns that made them."""
        confidence, names = 1.0, list[str]()
        for _ in range(MAX_REWRITES + 1):
            clause, repairs = repair_verb(strip_opener(clause))
            confidence *= 0.9**repairs
            for pattern in self.patterns:
                result = pattern.apply(clause)
                if result is None:
                    continue
                names.append(pattern.name)
                confidence *= pattern.confidence
                if isinstance(result, str):
                    clause = result
                    break
                return result, confidence * min(map(_edit_confidence, result)), tuple(names)
            else:
                return [], 0.0, tuple(names)
        return [], 0.0, tuple(names)

    def parse(self, instruction: str) -> ParsedInstruction:
        text = clean(instruction or "")
        if not text:
            return ParsedInstruction()
        edits: list[Edit] = []
        confidences: list[float] = []
        names: list[str] = []
        for clause in split_clauses(text):
            found, confidence, used = self.parse_clause(clause)
            confidences.append(confidence)
            edits += found
            names += used
        # A clause that says nothing parseable next to ones that do makes the whole parse less sure.
        confidence = min(c for c in confidences if c > 0) * (0.7 if 0 in confidences else 1.0) if edits else 0.0
        return ParsedInstruction.of(edits, confidence, tuple(names))
