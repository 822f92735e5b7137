"""The grounder contract: segment a text concept in images."""

from __future__ import annotations

import torch
from torch import nn


class Grounder(nn.Module):
    """Text-prompted segmentation.

    :meth:`ground` takes images ``(B, 3, H, W)`` in [0, 1] and one concept per image and returns,
    per image, a map ``(h, w)`` in [0, 1] (any resolution; instances max-merged) or ``None`` when
    nothing was found. Callers never pass empty concepts.
    """

    def ground(
        self, images: torch.Tensor, concepts: list[str], levels: list[torch.Tensor] | None = None
    ) -> list[torch.Tensor | None]:
        """``levels``: the images' features from the annotator's backbone, when this grounder shares it."""
        raise NotImplementedError


class NoGrounder(Grounder):
    """The "no instruction branch" ablation: nothing is ever found, so the prior is uniform."""

    def ground(
        self, images: torch.Tensor, concepts: list[str], levels: list[torch.Tensor] | None = None
    ) -> list[torch.Tensor | None]:
        return [None] * len(concepts)
