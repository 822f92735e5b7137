"""Word lists the rule parser reads: verbs, global-edit words, parts, positions, pronouns."""

from __future__ import annotations


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


MATERIALS = words(
    "wood marble stone metal glass brick concrete gold silver ice steel plastic fabric paper leather "
    "granite bronze copper clay"
)
DETERMINERS = r"(?:the|a|an|this|that|these|those|his|her|their|its|my|your|our|some|any|only|just)"
INTENSIFIERS = frozenset(["very", "really", "bright", "vivid", "vibrant"])
NUMBERS = words("one two three four five six seven eight nine ten several many few both all")
# Where an object is in the picture, not what it is: dropped from concepts.
POSITIONS = words("left right leftmost rightmost topmost middle center centre nearest farthest closest upper lower")
# A participle after the noun describes what it does ("a kite flying"), not what it is.
PARTICIPLES = words(
    "sitting standing flying running walking lying sleeping swimming playing eating holding wearing "
    "hanging floating jumping riding grazing perched parked resting waiting looking smiling"
)
LOCATION = (
    r"\s+(?:on top of|in front of|to the (?:left|right) of|next to|to|on|in|at|near|beside|behind|under|off|"
    r"underneath|above|below|from|inside|into|onto|over|around|by|within|across|along|out of)\b.*$"
)
WHOLE_IMAGE = (
    r"(?:it|this|everything|(?:the|this) (?:whole |entire |overall )?"
    r"(?:image|photo|photograph|picture|scene|shot|frame|view))"
)
# Words that make an edit global when it names no object of its own.
GLOBAL_WORDS = (
    r"\b(?:filter|style|lighting|contrast|brightness|saturation|exposure|tone|mood|moodier|atmosphere|season|"
    r"weather|black and white|sepia|vintage|cinematic|dramatic|winter|summer|autumn|spring|fall|night|nighttime|"
    r"sunset|sunrise|daytime|day|golden hour|painting|watercolou?r|cartoon|anime|sketch|pixar|movie|film|"
    r"rainy|snowy|foggy|sunny|cloudy|stormy|misty|old photograph|retro|brighter|darker|warmer|cooler|"
    r"sharper|hdr|noir|van gogh|impressionist|oil|morning|evening|dusk|dawn|midnight|noon|afternoon|vibe|aesthetic)\b"
)
STYLE_NOUNS = r"(?:painting|drawing|sketch|style|cartoon|illustration|look|effect|filter|finish|vibe|feel|render)"
PRONOUNS = words("it them this that these those him her something anything stuff thing things one ones else there here")
# Nouns that name where, not what: a grounder asked for "the region" can only guess which one.
GENERIC_NOUNS = words(
    "region regions area areas part parts portion portions section sections spot spots patch patches zone zones "
    "object objects item items piece pieces"
)
# Parts and features: "give the cat blue eyes" changes the eyes, it adds nothing.
PARTS = words(
    "hair eyes eye fur skin wheels wheel roof door doors windows window leaves feathers wings nails lips "
    "beard mane tail petals walls wall"
)
EXPRESSIONS = words("expression face look smile mood")
# Verbs of a state or action an object takes: "make the man smile" -> "smiling man".
VERB_STATES = {
    "smile": "smiling",
    "frown": "frowning",
    "laugh": "laughing",
    "sit": "sitting",
    "stand": "standing",
    "cry": "crying",
    "sleep": "sleeping",
    "bloom": "blooming",
    "wink": "winking",
    "glow": "glowing",
    "shine": "shining",
    "jump": "jumping",
    "run": "running",
    "dance": "dancing",
    "yawn": "yawning",
    "wave": "waving",
    "melt": "melting",
    "sparkle": "sparkling",
    "gallop": "galloping",
    "swim": "swimming",
    "fly": "flying",
    "walk": "walking",
    "kneel": "kneeling",
    "bark": "barking",
    "roar": "roaring",
    "sing": "singing",
    "read": "reading",
    "float": "floating",
    "blush": "blushing",
    "pout": "pouting",
    "grin": "grinning",
    "shout": "shouting",
}
# Every verb that may open a clause (their gerunds too): the vocabulary for typo repair and for
# telling a new clause ("... and paint the wall") from a coordinated object ("... and pepper").
VERBS = words(
    "remove delete erase eliminate clear wipe cut lose ditch take get add put place insert include draw paste drop "
    "hang give replace swap substitute exchange switch trade change turn transform convert morph make "
    "paint color colour recolor recolour dye tint brighten lighten darken dim shade blur defocus desaturate "
    "fade set render apply use increase decrease boost reduce enhance have let show "
    "move shift slide drag push pull relocate reposition nudge duplicate clone copy replicate double"
)
GERUNDS = {
    "removing": "remove",
    "deleting": "delete",
    "erasing": "erase",
    "adding": "add",
    "moving": "move",
    "shifting": "shift",
    "duplicating": "duplicate",
    "putting": "put",
    "placing": "place",
    "inserting": "insert",
    "replacing": "replace",
    "swapping": "swap",
    "changing": "change",
    "turning": "turn",
    "making": "make",
    "painting": "paint",
    "coloring": "color",
    "colouring": "colour",
    "giving": "give",
    "getting": "get",
    "taking": "take",
    "drawing": "draw",
}
# Words a clause may open with that are not verbs (so never "repaired" into one).
OPENERS = words(
    "the a an there what how why imagine i i'd i'm we let's no can could would should is are it this show "
    "please kindly first then also and just now so instead"
)
