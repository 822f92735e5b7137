"""The grounder contract: segment a text concept in images."""

from __future__ import annotations

import torch
from torch import nn

from sigma.model.parsing.phrases import normalise


def names_category(concept: str, category: str) -> bool:
    """Whether ``concept`` is ``category``, maybe qualified or in the plural: "blue circle" and "circles"
    name "circle"; "circle texture" and "dog" do not."""
    tokens, words = normalise(concept, strip_location=False).split(), category.lower().split()
    if not words or len(tokens) < len(words):
        return False
    tail = tokens[-len(words) :]
    return tail[:-1] == words[:-1] and tail[-1] in (words[-1], f"{words[-1]}s", f"{words[-1]}es")


class Grounder(nn.Module):
    """Text-prompted segmentation.

    :meth:`ground` takes images ``(B, 3, H, W)`` in [0, 1] and one concept per image and returns,
    per image, a map ``(h, w)`` in [0, 1] (any resolution; instances max-merged) or ``None`` when
    nothing was found. Callers never pass empty concepts.
    """

    # The categories a closed-vocabulary grounder was trained on; None: open vocabulary, or not recorded.
    vocabulary: tuple[str, ...] | None = None

    def ground(
        self, images: torch.Tensor, concepts: list[str], levels: list[torch.Tensor] | None = None
    ) -> list[torch.Tensor | None]:
        """``levels``: the images' features from the annotator's backbone, when this grounder shares it."""
        raise NotImplementedError

    def knows(self, concept: str) -> bool:
        """Whether a map of ``concept`` from this grounder points at that concept rather than at what
        looks most like it: any concept for an open-vocabulary detector (GroundingDINO, ``vocabulary``
        None); only its categories for a head trained on a closed ``vocabulary``."""
        return self.vocabulary is None or any(names_category(concept, c) for c in self.vocabulary)


class NoGrounder(Grounder):
    """The "no instruction branch" ablation: nothing is ever found, so the prior is uniform."""

    def ground(
        self, images: torch.Tensor, concepts: list[str], levels: list[torch.Tensor] | None = None
    ) -> list[torch.Tensor | None]:
        return [None] * len(concepts)
