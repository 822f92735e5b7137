"""Every instruction template of the synthesised data parses to the tuple it is generated with, for
every built-in shape and every COCO category: training and evaluation read these parses."""

import json

import pytest

from sigma.data import instructions as templates
from sigma.data.builtin import SHAPES
from sigma.data.edits import HUES
from sigma.model.parsing import RuleParser

PARSER = RuleParser()


def _names(coco_root) -> list[str]:
    names = set(SHAPES)
    for path in (coco_root / "annotations").glob("*.json"):
        names |= {c["name"] for c in json.loads(path.read_text())["categories"]}
    return sorted(names)


def _cases(names: list[str]):
    concept = templates.concept
    for i, a in enumerate(names):
        for t in templates.REMOVE:
            yield t.format(a=a), (concept(a), None, "remove")
        for colour in HUES:
            for t in templates.RECOLOUR:
                yield t.format(a=a, c=colour), (concept(a), f"{colour} {a}", "attribute_change")
        for options in templates.ATTRIBUTE.values():
            for t, edited in options:
                yield t.format(a=a), (concept(a), edited.format(a=a), "attribute_change")
        for t in templates.ADD:
            yield t.format(b_art=concept(a), c="table"), (None, concept(a), "add")
        for j, b in enumerate(names):
            if b != a:
                t = templates.REPLACE[(i + j) % len(templates.REPLACE)]
                yield t.format(a=a, b_art=concept(b)), (concept(a), concept(b), "replace")
    for options in templates.GLOBAL.values():
        for t in options:
            yield t, (None, None, "global")


@pytest.mark.parametrize("source", ["builtin", "coco"])
def test_every_template_parses_to_its_tuple(source, request):
    names = list(SHAPES) if source == "builtin" else _names(request.getfixturevalue("coco_tiny"))
    wrong = [(text, PARSER.parse(text).as_tuple(), want) for text, want in _cases(names)]
    wrong = [w for w in wrong if w[1] != w[2]]
    assert not wrong, f"{len(wrong)} wrong, e.g. {wrong[:5]}"
