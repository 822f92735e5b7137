"""Edit builders for the rule patterns: matched phrases -> :class:`Edit` objects, by action."""

from __future__ import annotations

import re

from sigma.data.instructions import ADJECTIVES, MASS_NOUNS, is_plural
from sigma.model.parsing.base import Edit
from sigma.model.parsing.lexicon import (
    EXPRESSIONS,
    GLOBAL_WORDS,
    LOCATION,
    MATERIALS,
    PARTS,
    STYLE_NOUNS,
    VERBS,
    WHOLE_IMAGE,
    words,
)
from sigma.model.parsing.phrases import concept_of, has_article, is_adjectival, is_vague, normalise, shift_shade

# What may stand around the global words of a global edit without naming an object of its own.
GLOBAL_FILLER = words(
    "the a an this that it its it's to into in of like look looks more less with was were taken at as if and "
    "by mode version effect bit little slightly much very should be become give make set apply use increase "
    "decrease boost reduce enhance lower raise adjust add put warm cold soft hard image photo picture scene "
    "shot frame view photograph whole entire overall style filter"
)


def is_whole_image(phrase: str) -> bool:
    return re.fullmatch(WHOLE_IMAGE, phrase.strip()) is not None


def is_global(clause: str) -> bool:
    """A clause about the whole image with a global-edit word ("turn this photo into a pencil
    sketch"), or of global-edit words only ("increase the contrast"): no object of its own is left
    once global words, whole-image words and filler are taken out."""
    if not re.search(GLOBAL_WORDS, clause):
        return False
    # "this" or "it" then a noun is an object ("turn this car into a cartoon"), not the image
    after = rf"(?:\s+(?:into|to|look|looks|a|an|in|more|less|like|feel|seem|as)\b|$|\s+{GLOBAL_WORDS})"
    about_the_image = re.match(rf"^(?:\w+\s+){{1,2}}{WHOLE_IMAGE}{after}", clause)
    if about_the_image and not re.match(r"^(?:remove|delete|erase)\b", clause):
        return True
    rest = re.sub(GLOBAL_WORDS, " ", clause)
    rest = re.sub(rf"\b{WHOLE_IMAGE}\b", " ", rest)
    return all(w in GLOBAL_FILLER or w in VERBS for w in rest.split())


def _coordinated(phrase: str) -> list[str]:
    """``"the cat and the dog"`` -> two objects; ``"salt and pepper shakers"`` stays one: only a
    phrase that opens with a determiner or count is a list of objects."""
    parts = re.split(r",\s*(?:and\s+)?|\s+and\s+", phrase)
    if len(parts) > 1 and re.match(r"(?:the|a|an|some|two|three|\d+)\s", phrase):
        return parts
    return [phrase]


def removed(x: str) -> list[Edit]:
    return [Edit(original=concept_of(normalise(part)), action="remove") for part in _coordinated(x)]


def added(y: str) -> list[Edit]:
    # Coordinated objects share one location ("a hat and sunglasses to the man"): cut it first.
    objects = _coordinated(re.sub(LOCATION, "", y.strip()))
    return [Edit(edited=concept_of(normalise(part), has_article(part)), action="add") for part in objects]


def moved(x: str) -> list[Edit]:
    """The object leaves its place for another: the same concept in both images."""
    return [Edit(original=(c := concept_of(normalise(part))), edited=c, action="move") for part in _coordinated(x)]


def duplicated(x: str) -> list[Edit]:
    """A second copy of an object already there: an addition of that object."""
    return [Edit(edited=concept_of(normalise(part)), action="add") for part in _coordinated(x)]


def replaced(x: str, y: str) -> list[Edit]:
    original, edited = concept_of(normalise(x), has_article(x)), concept_of(normalise(y), has_article(y))
    return [Edit(original=original, edited=edited, action="replace")]


def attributed(x: str, attribute: str) -> list[Edit]:
    """``("the car", "red")`` -> ``a car`` -> ``red car``."""
    xw = normalise(x)
    edited = None if is_vague(xw) or not attribute else f"{attribute} {xw}"
    return [Edit(original=concept_of(xw), edited=edited, action="attribute_change")]


def changed(x: str, y: str) -> list[Edit] | None:
    """X becomes Y: an attribute change when Y is only adjectives or a material or keeps X's head
    noun, else a replacement. ``None`` when X is the whole image (a global edit says so itself)."""
    x, y = shift_shade(x.strip(), y.strip())
    if is_whole_image(x):
        return None
    xw, yw = normalise(x), normalise(y, strip_location=False)
    if predicate_word(y):  # "let the river be frozen": a bare word after "be" says how X is
        return attributed(x, yw)
    if xw in MATERIALS and yw in MATERIALS:
        return replaced(xw, yw)  # "turn the wood into marble": one texture for another
    y_is_noun = re.match(r"(?:a|an)\s", y) is not None  # "to a square": the shape, not the adjective
    if (is_adjectival(yw) and not y_is_noun) or yw in MATERIALS:
        return attributed(x, yw)
    if xw and yw and xw.split()[-1] == yw.split()[-1] and all(map(_modifiers_only, (xw, yw))):
        return [Edit(original=concept_of(xw), edited=concept_of(yw), action="attribute_change")]
    return replaced(x, y)


def predicate_word(phrase: str) -> bool:
    """One bare singular word, no article: an attribute ("frozen"), where a new object would read
    "a truck", "trees" or "grass"."""
    word = phrase.strip()
    return (
        re.fullmatch(r"[a-z-]+", word) is not None
        and not is_plural(word)
        and word not in MASS_NOUNS
        and word not in MATERIALS
        and not is_whole_image(word)
    )


def _modifiers_only(phrase: str) -> bool:
    """ "red dress": the words before the head are adjectives ("teddy bear" is another object)."""
    *mods, _ = phrase.split()
    return not mods or is_adjectival(" ".join(mods))


def looks_like(x: str, y: str) -> list[Edit] | None:
    """ "make X look [like] Y": a style or an adjective is an attribute of X; an object replaces it."""
    if is_whole_image(x):
        return None
    style = re.fullmatch(rf"(?:a|an)\s+(?P<s>.+?)\s+{STYLE_NOUNS}", y)
    if style:
        return attributed(x, style["s"])
    if re.match(r"(?:a|an)\s", y):
        return replaced(x, y)
    return attributed(x, normalise(y, strip_location=False))


def owned(x: str, y: str) -> list[Edit]:
    """X gets Y: an expression changes X ("an angry expression"), an adjective on a part changes the
    part ("blue eyes"), anything else is added ("a hat")."""
    yw = normalise(y)
    *mods, head = yw.split() or [""]
    modifier = " ".join(mods)
    if mods and head in EXPRESSIONS:  # whatever qualifies an expression is how X looks
        return attributed(x, modifier)
    if mods and is_adjectival(modifier) and head in PARTS:
        return [Edit(original=concept_of(head), edited=yw, action="attribute_change")]
    return added(y)


def split_recipient(rest: str) -> tuple[str, str] | None:
    """ "give the little girl a hat" -> ("the little girl", "a hat"): the recipient ends at its first
    noun; what is given starts with an article, a count, an adjective or a part."""
    tokens = rest.split()
    if tokens and tokens[0] in ("him", "her", "them", "it", "me", "us"):
        return (tokens[0], " ".join(tokens[1:])) if len(tokens) > 1 else None
    determiners = {"the", "a", "an", "this", "that", "his", "her", "their", "my", "our", "your"}
    noun_at = next((i for i, t in enumerate(tokens) if t not in determiners and t not in ADJECTIVES), None)
    if noun_at is None:
        return None
    for i in range(noun_at + 1, len(tokens)):
        if tokens[i] in ("a", "an", "some") or tokens[i] in ADJECTIVES or tokens[i] in PARTS or tokens[i].isdigit():
            return " ".join(tokens[:i]), " ".join(tokens[i:])
    return None
