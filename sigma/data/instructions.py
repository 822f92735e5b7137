"""Instruction templates for synthesised edits, with the (original, edited, action) tuple each
template means, so that generated pairs carry their own parser ground truth."""

from __future__ import annotations

import numpy as np

VOWELS = "aeiou"

REMOVE = (
    "remove the {a}",
    "delete the {a}",
    "erase the {a} from the picture",
    "get rid of the {a}",
    "take out the {a}",
    "remove the {a} from the image",
)
RECOLOUR = (
    "make the {a} {c}",
    "turn the {a} {c}",
    "change the colour of the {a} to {c}",
    "paint the {a} {c}",
    "color the {a} {c}",
    "recolor the {a} to {c}",
)
ATTRIBUTE = {  # attribute edits other than a new colour: (template, how the edited concept reads)
    "brighten": (
        ("make the {a} brighter", "brighter {a}"),
        ("brighten the {a}", "bright {a}"),
        ("lighten the {a}", "bright {a}"),
    ),
    "darken": (("make the {a} darker", "darker {a}"), ("darken the {a}", "dark {a}"), ("shade the {a}", "dark {a}")),
    "blur": (("blur the {a}", "blurry {a}"), ("make the {a} blurry", "blurry {a}"), ("defocus the {a}", "blurry {a}")),
    "fade": (
        ("make the {a} pale", "pale {a}"),
        ("desaturate the {a}", "pale {a}"),
        ("fade the colours of the {a}", "pale {a}"),
    ),
}
REPLACE = (
    "replace the {a} with {b_art}",
    "swap the {a} for {b_art}",
    "turn the {a} into {b_art}",
    "change the {a} to {b_art}",
    "replace the {a} by {b_art}",
)
ADD = (
    "add {b_art}",
    "add {b_art} next to the {c}",
    "put {b_art} in the picture",
    "insert {b_art} into the scene",
    "place {b_art} near the {c}",
    "add {b_art} beside the {c}",
)
MOVE = (  # {d}: a direction phrase of DIRECTIONS
    "move the {a} {d}",
    "shift the {a} {d}",
    "drag the {a} {d}",
    "slide the {a} {d}",
    "move the {a} a bit {d}",
)
DIRECTIONS = {  # (dx, dy) sign -> how an instruction says it
    (-1, 0): ("to the left", "left"),
    (1, 0): ("to the right", "right"),
    (0, -1): ("up", "upwards"),
    (0, 1): ("down", "downwards"),
}
DUPLICATE = (
    "duplicate the {a}",
    "add another {a}",
    "make a copy of the {a}",
    "clone the {a}",
    "copy the {a} next to it",
)
GLOBAL = {
    "winter": ("make it look like winter", "turn the scene into a snowy winter day", "make it winter"),
    "autumn": ("make it look like autumn", "give the photo an autumn look", "change the season to fall"),
    "night": ("make it night", "turn the scene into night", "make it look like it was taken at night"),
    "vintage": ("give the photo a vintage look", "make it look like an old photograph", "apply a sepia filter"),
    "dramatic": ("make it more dramatic", "increase the contrast", "make the image moodier"),
    "sunset": ("make it look like sunset", "add warm golden hour lighting", "make the lighting warmer"),
}


# Spelling says vowel, sound says consonant ("a unicorn", "a one-way sign"), or the other way round.
CONSONANT_SOUND = ("uni", "use", "usu", "eu", "one", "ewe")
VOWEL_SOUND = ("hour", "honest", "honour", "honor", "heir")


def with_article(noun: str) -> str:
    lower = noun.lower()
    vowel = (lower[:1] in VOWELS and not lower.startswith(CONSONANT_SOUND)) or lower.startswith(VOWEL_SOUND)
    return f"{'an' if vowel else 'a'} {noun}"


def pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[rng.integers(len(options))]


def remove(rng: np.random.Generator, a: str) -> tuple[str, dict]:
    return pick(rng, REMOVE).format(a=a), {"original": concept(a), "edited": None, "action": "remove"}


def recolour(rng: np.random.Generator, a: str, colour: str) -> tuple[str, dict]:
    text = pick(rng, RECOLOUR).format(a=a, c=colour)
    return text, {"original": concept(a), "edited": f"{colour} {a}", "action": "attribute_change"}


def attribute(rng: np.random.Generator, a: str, change: str) -> tuple[str, dict]:
    options = ATTRIBUTE[change]
    template, edited = options[rng.integers(len(options))]
    return template.format(a=a), {"original": concept(a), "edited": edited.format(a=a), "action": "attribute_change"}


def replace(rng: np.random.Generator, a: str, b: str) -> tuple[str, dict]:
    text = pick(rng, REPLACE).format(a=a, b_art=concept(b))
    return text, {"original": concept(a), "edited": concept(b), "action": "replace"}


def add(rng: np.random.Generator, b: str, context: str | None) -> tuple[str, dict]:
    templates = ADD if context else tuple(t for t in ADD if "{c}" not in t)
    text = pick(rng, templates).format(b_art=concept(b), c=context)
    return text, {"original": None, "edited": concept(b), "action": "add"}


def move(rng: np.random.Generator, a: str, direction: tuple[int, int]) -> tuple[str, dict]:
    """The object leaves one place for another: grounded in both images."""
    text = pick(rng, MOVE).format(a=a, d=pick(rng, DIRECTIONS[direction]))
    return text, {"original": concept(a), "edited": concept(a), "action": "move"}


def duplicate(rng: np.random.Generator, a: str) -> tuple[str, dict]:
    """A second copy of an object already in the photo: an addition of that object."""
    return pick(rng, DUPLICATE).format(a=a), {"original": None, "edited": concept(a), "action": "add"}


def global_style(rng: np.random.Generator, style: str) -> tuple[str, dict]:
    return pick(rng, GLOBAL[style]), {"original": None, "edited": None, "action": "global"}


# Words that make a noun phrase read as a bare concept ("grey striped t-shirt"), not "a <noun>".
COLOURS = frozenset(
    "red orange yellow green cyan blue purple pink white black grey gray brown golden gold silver beige "
    "violet magenta turquoise teal navy maroon".split()
)
ADJECTIVES = COLOURS | frozenset(
    "striped spotted checkered plaid dotted wooden metallic shiny matte glossy old new young big small large "
    "tiny huge tall short long round square dark light pale bigger smaller larger taller shorter wider "
    "thinner thicker bright brighter dark darker blurry blurred pale older younger warmer cooler happier longer "
    "happy sad angry smiling wet dry broken rusty clean dirty colorful "
    "colourful transparent furry fluffy leather denim woolen striped blonde curly straight".split()
)
MASS_NOUNS = frozenset(
    "water grass sand snow sky hair text writing smoke fire fog rain wood marble stone metal glass brick "
    "concrete gold silver ice steel plastic fabric paper background foreground grass sunlight lava mud "
    "furniture food clutter graffiti litter trash dust dirt tea coffee milk juice wine fur foliage ivy moss rust "
    "hay rice scaffolding clothing bedding".split()
)
IRREGULAR_PLURALS = frozenset("people children men women mice geese feet teeth".split())
SINGULAR_IN_S = frozenset("axis tennis chassis series species lens canvas atlas iris bus gas".split())


def is_plural(noun: str) -> bool:
    last = noun.split()[-1]
    if last in IRREGULAR_PLURALS:
        return True
    return last.endswith("s") and not last.endswith(("ss", "us")) and last not in SINGULAR_IN_S


def concept(noun_phrase: str) -> str:
    """Canonical concept text: ``"cat"`` -> ``"a cat"``; plurals, mass nouns and phrases with
    adjectives stay bare (``"skis"``, ``"grass"``, ``"grey striped t-shirt"``)."""
    head = noun_phrase.split(" of ")[0]  # "cup of coffee": a cup
    words = head.split()
    if not words:
        return noun_phrase
    # Only words before the head noun can be adjectives: "traffic light" is a noun compound.
    if is_plural(head) or words[-1] in MASS_NOUNS or any(w in ADJECTIVES for w in words[:-1]):
        return noun_phrase
    return with_article(noun_phrase)
