import json

import pytest

from sigma.config import ParserParams
from sigma.model.parsing import ParsedInstruction, RuleParser, build_parser, list_parsers
from sigma.model.parsing.llm import build_prompt, parse_json_answer

N = None
# (instruction, original, edited, action). The first five are the method notes' examples.
CASES = [
    ("remove the cat", "a cat", N, "remove"),
    ("add a hat on the person", N, "a hat", "add"),
    ("turn the wood into marble", "wood texture", "marble texture", "replace"),
    (
        "change the boy's grey striped t-shirt to a bright blue t-shirt",
        "grey striped t-shirt",
        "blue t-shirt",
        "attribute_change",
    ),
    ("make it more dramatic", N, N, "global"),
    # removal phrasings
    ("Remove the dog.", "a dog", N, "remove"),
    ("delete the car", "a car", N, "remove"),
    ("erase the person from the picture", "a person", N, "remove"),
    ("get rid of the umbrella", "an umbrella", N, "remove"),
    ("take out the bottle", "a bottle", N, "remove"),
    ("take away the chair on the left", "a chair", N, "remove"),
    ("please remove the people in the background", "people", N, "remove"),
    ("remove the skis", "skis", N, "remove"),
    ("eliminate the traffic light", "a traffic light", N, "remove"),
    ("remove the red car", "red car", N, "remove"),
    ("there should be no birds", "birds", N, "remove"),
    ("can you remove the text", "text", N, "remove"),
    ("remove the tennis racket from the man's hand", "a tennis racket", N, "remove"),
    # additions
    ("add a bird next to the bench", N, "a bird", "add"),
    ("put a vase in the picture", N, "a vase", "add"),
    ("insert an apple into the scene", N, "an apple", "add"),
    ("place a dog near the tree", N, "a dog", "add"),
    ("add a cat beside the sofa", N, "a cat", "add"),
    ("add some flowers on the table", N, "flowers", "add"),
    ("give the man a hat", N, "a hat", "add"),
    ("let there be a rainbow in the sky", N, "a rainbow", "add"),
    ("add sunglasses to the woman", N, "sunglasses", "add"),
    ("draw a moon above the house", N, "a moon", "add"),
    ("add a small boat on the lake", N, "small boat", "add"),
    ("Add an umbrella.", N, "an umbrella", "add"),
    # replacement
    ("replace the dog with a cat", "a dog", "a cat", "replace"),
    ("replace the cup on the table with a vase", "a cup", "a vase", "replace"),
    ("swap the apple for an orange", "an apple", "an orange", "replace"),
    ("substitute a horse for the cow", "a cow", "a horse", "replace"),
    ("change the car to a bus", "a car", "a bus", "replace"),
    ("turn the cat into a tiger", "a cat", "a tiger", "replace"),
    ("transform the bicycle into a motorcycle", "a bicycle", "a motorcycle", "replace"),
    ("make the dog look like a wolf", "a dog", "a wolf", "replace"),
    ("replace the sky with fireworks", "sky", "fireworks", "replace"),
    ("turn the stone into gold", "stone texture", "gold texture", "replace"),
    ("replace the background with a beach", "background", "a beach", "replace"),
    ("convert the sandwich to a pizza", "a sandwich", "a pizza", "replace"),
    ("replace the circle by a star", "a circle", "a star", "replace"),
    # attribute changes
    ("make the car red", "a car", "red car", "attribute_change"),
    ("turn the traffic light blue", "a traffic light", "blue traffic light", "attribute_change"),
    ("change the colour of the bus to green", "a bus", "green bus", "attribute_change"),
    ("change the color of the shirt to yellow", "a shirt", "yellow shirt", "attribute_change"),
    ("paint the fence white", "a fence", "white fence", "attribute_change"),
    ("color the car red", "a car", "red car", "attribute_change"),
    ("recolor the person to pink", "a person", "pink person", "attribute_change"),
    ("dye her hair purple", "hair", "purple hair", "attribute_change"),
    ("make the sky light blue", "sky", "light blue sky", "attribute_change"),
    ("make the tree bigger", "a tree", "bigger tree", "attribute_change"),
    ("the sky should be purple", "sky", "purple sky", "attribute_change"),
    ("change the red dress to a blue dress", "red dress", "blue dress", "attribute_change"),
    ("turn the table into marble", "a table", "marble table", "attribute_change"),
    ("make the hot dog yellow", "a hot dog", "yellow hot dog", "attribute_change"),
    # global
    ("make it look like winter", N, N, "global"),
    ("turn the scene into a snowy winter day", N, N, "global"),
    ("give the photo an autumn look", N, N, "global"),
    ("apply a sepia filter", N, N, "global"),
    ("increase the contrast", N, N, "global"),
    ("make it look like it was taken at night", N, N, "global"),
    ("change the season to fall", N, N, "global"),
    ("add warm golden hour lighting", N, N, "global"),
    ("make the image look like a watercolor painting", N, N, "global"),
    ("convert the photo to black and white", N, N, "global"),
    ("make the whole picture brighter", N, N, "global"),
    ("render it in the style of van gogh", N, N, "global"),
    # empty / unparseable
    ("", N, N, N),
    ("   ", N, N, N),
    ("hello there", N, N, N),
]


def test_table_is_large_and_has_unique_rows():
    assert len(CASES) >= 60
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("instruction, original, edited, action", CASES)
def test_rule_parser_table(instruction, original, edited, action):
    assert RuleParser().parse(instruction).as_tuple() == (original, edited, action)


def test_registry_builds_every_parser_or_says_what_is_missing():
    assert list_parsers() == ["llm", "rules"]
    assert isinstance(build_parser(ParserParams(name="rules")), RuleParser)
    with pytest.raises(ValueError, match="llm_model"):
        build_parser(ParserParams(name="llm"))


@pytest.mark.parametrize(
    "answer, expected",
    [
        ('{"original": "a dog", "edited": null, "action": "remove"}', ("a dog", None, "remove")),
        ('Sure! {"original": null, "edited": "a hat", "action": "add"} done', (None, "a hat", "add")),
        ('{"original": "", "edited": "null", "action": "global"}', (None, None, "global")),
    ],
)
def test_llm_answer_accepts_strict_json(answer, expected):
    assert parse_json_answer(answer).as_tuple() == expected


@pytest.mark.parametrize(
    "answer",
    [
        "remove a dog",
        '{"original": "a dog", "action": "remove"}',
        '{"original": "a dog", "edited": null, "action": "delete"}',
        '{"original": "a dog", "edited": null, "action": "remove", "why": "x"}',
        '{"original": "a dog", edited: null}',
        '{"original": ["a"], "edited": null, "action": "remove"}',
    ],
)
def test_llm_answer_rejects_anything_else(answer):
    assert parse_json_answer(answer) is None


def test_prompt_holds_the_few_shot_examples_and_the_instruction():
    prompt = build_prompt("remove the zebra")
    assert prompt.rstrip().endswith("Instruction: remove the zebra\nJSON:")
    assert json.dumps({"original": "a cat", "edited": None, "action": "remove"}) in prompt


def test_parsed_instruction_rejects_unknown_action():
    with pytest.raises(ValueError):
        ParsedInstruction(action="explode")
