"""Text handling for the rule parser: cleaning, typo repair, clause splitting, concept phrases."""

from __future__ import annotations

import re

from rapidfuzz.distance import DamerauLevenshtein

from sigma.data.instructions import ADJECTIVES, COLOURS, concept, with_article
from sigma.model.parsing.lexicon import (
    DETERMINERS,
    GENERIC_NOUNS,
    GERUNDS,
    INTENSIFIERS,
    LOCATION,
    MATERIALS,
    NUMBERS,
    OPENERS,
    PARTICIPLES,
    POSITIONS,
    PRONOUNS,
    VERBS,
)

QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "&": " and "})
DETERMINER_TYPOS = {"teh": "the", "hte": "the", "th": "the", "tha": "the"}
THANKS = r"(?:,?\s*(?:thanks|thank you|thx|please|pls)(?: so much)?)+$"


def clean(text: str) -> str:
    """Lower case, straight quotes, no surrounding quotes, politeness tails or stray punctuation."""
    text = text.translate(QUOTES).lower()
    text = re.sub(r"(?:^|\s)['\"]+|['\"]+(?=\s|$)", " ", f" {text} ")  # quotes around, not apostrophes
    text = re.sub(r"[!?]+|\.{2,}", ".", text)
    text = re.sub(r"\s+", " ", text).strip(" .,;:")
    text = re.sub(THANKS, "", text).strip(" .,;:")
    text = re.sub(r"^instead of (.+?), (.+)$", r"\2 instead of \1", text)
    return " ".join(DETERMINER_TYPOS.get(w, w) for w in text.split())


def repair_verb(clause: str) -> tuple[str, int]:
    """A clause whose first word is one typo away from a known verb (two for long words), with that
    word replaced; returns the clause and the number of repairs (0 or 1)."""
    first, _, rest = clause.partition(" ")
    if not first or first in VERBS or first in OPENERS or first in GERUNDS or not first.isalpha():
        return clause, 0
    limit = 1 if len(first) <= 5 else 2
    best = min(sorted(VERBS), key=lambda verb: DamerauLevenshtein.distance(first, verb))
    if DamerauLevenshtein.distance(first, best) <= limit and len(first) >= 2:
        return f"{best} {rest}".strip(), 1
    return clause, 0


def _starts_clause(words: str) -> bool:
    """A verb opens a clause; so does an unknown word before a determiner ("... and blorf the zib")."""
    first, second = (words.split() + ["", ""])[:2]
    unknown_verb = re.fullmatch(DETERMINERS, second) is not None and first not in NUMBERS
    return first in VERBS or first in GERUNDS or first in ("then", "also", "there", "first") or unknown_verb


def split_clauses(text: str) -> list[str]:
    """``"remove the cup and make the table red"`` -> ``["remove the cup", "make the table red"]``.

    Sentences split at full stops and semicolons; within one, "then", and "," or "and" before a
    verb start a new clause. "black and white" or "salt and pepper" stay whole: no verb follows.
    """
    clauses = []
    for sentence in re.split(r"\s*[.;]\s*", text):
        parts = re.split(r",?\s+(?:and\s+)?then\s+|,\s+and\s+|,\s+|\s+and\s+(?:also\s+)?", sentence)
        seps = re.findall(r",?\s+(?:and\s+)?then\s+|,\s+and\s+|,\s+|\s+and\s+(?:also\s+)?", sentence)
        current = parts[0]
        for sep, part in zip(seps, parts[1:], strict=True):
            if "then" in sep or _starts_clause(part):
                clauses.append(current)
                current = part
            else:
                current = f"{current}{sep}{part}"
        clauses.append(current)
    return [c.strip() for c in clauses if c.strip()]


def strip_opener(clause: str) -> str:
    return re.sub(r"^(?:(?:first|then|also|and|now|next|finally|just|so)\s+)+", "", clause)


def normalise(phrase: str, strip_location: bool = True) -> str:
    """Noun phrase -> bare concept words: no determiner, possessor, count, position, intensifier,
    trailing participle or location."""
    phrase = phrase.strip(" ,")
    if strip_location:
        phrase = re.sub(LOCATION, "", phrase)
    phrase = re.sub(r"^(?:one|some|all|each|any|both|none) of\s+", "", phrase)
    phrase = re.sub(rf"^(?:{DETERMINERS}\s+)+", "", phrase)
    if "'" in phrase:
        phrase = re.sub(r"^.*?\b\w+'s?\s+", "", phrase)
    phrase = re.sub(r"^(?:colou?r|shade)\s+of\s+", "", phrase)
    words = [w for w in phrase.split() if w not in INTENSIFIERS and w not in POSITIONS]
    words = [w for i, w in enumerate(words) if not (i == 0 and (w in NUMBERS or w.isdigit()))]
    if len(words) > 1 and words[-1] in PARTICIPLES:
        words = words[:-1]
    return " ".join(words)


def is_vague(words: str) -> bool:
    """A phrase that names no object: a pronoun or "something else"."""
    tokens = words.split()
    return not tokens or all(t in PRONOUNS for t in tokens)


def names_no_kind(concept: str) -> bool:
    """A concept that says where but not what ("region", "the area", "a part"): a grounder asked for it
    picks one of many candidates, so its map cannot tell the asked-for change from any other."""
    tokens = normalise(concept, strip_location=False).split()
    return not tokens or all(t in GENERIC_NOUNS or t in PRONOUNS for t in tokens)


def concept_of(words: str, counted: bool = False) -> str | None:
    """Bare concept words -> the concept a grounder is asked for (``None`` when there is none).

    ``counted``: the instruction wrote "a"/"an" before it, so "a glass" is an object, not glass."""
    if is_vague(words):
        return None
    if counted and " " not in words.split(" of ")[0]:  # "a glass", "a glass of wine"
        return with_article(words)
    return f"{words} texture" if words in MATERIALS else concept(words)


def has_article(phrase: str) -> bool:
    return re.match(r"(?:a|an)\s", phrase.strip()) is not None


def is_adjectival(words: str) -> bool:
    tokens = words.split()
    return bool(tokens) and all(t in ADJECTIVES or t.endswith("ish") for t in tokens)


# A shade word before a colour ("light blue") belongs to the colour unless it ends a noun compound.
SHADES = ("light", "dark", "pale", "deep")
COMPOUNDS_ENDING_IN_SHADE = frozenset({"traffic light", "street light", "ceiling light", "night light", "lamp light"})


def shift_shade(x: str, y: str) -> tuple[str, str]:
    """``("the sky light", "blue")`` -> ``("the sky", "light blue")``; "traffic light" stays whole."""
    head, _, last = x.rpartition(" ")
    tail = " ".join(x.split()[-2:])
    if last in SHADES and head and y in COLOURS and tail not in COMPOUNDS_ENDING_IN_SHADE:
        return head, f"{last} {y}"
    return x, y
