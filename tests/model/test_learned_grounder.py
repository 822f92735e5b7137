"""The learned grounder's closed vocabulary: which concepts its maps can be trusted for."""

from __future__ import annotations

import pytest
from torch import nn

from sigma.model.grounding.base import names_category
from sigma.model.grounding.learned import LearnedGrounder


@pytest.mark.parametrize(
    "concept, category, named",
    [
        ("circle", "circle", True),
        ("a blue circle", "circle", True),
        ("circles", "circle", True),
        ("the wine glass", "wine glass", True),
        ("glass", "wine glass", False),
        ("circle texture", "circle", False),
        ("dog", "circle", False),
    ],
)
def test_a_concept_names_a_category_when_it_ends_with_it(concept, category, named):
    assert names_category(concept, category) is named


def test_a_head_knows_its_own_categories_and_one_without_a_record_knows_all():
    def grounder(vocabulary):
        return LearnedGrounder(nn.Identity(), nn.Identity(), nn.Identity(), vocabulary=vocabulary)

    closed = grounder(["circle", "wine glass"])
    assert closed.knows("the red circle") and closed.knows("a wine glass") and not closed.knows("dog")
    assert grounder(None).knows("dog")  # a head saved before its vocabulary was recorded
