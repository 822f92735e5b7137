"""Offline grounder: a small text-conditioned segmentation head on the frozen backbone."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from sigma.model.backbones.base import Backbone
from sigma.model.blocks import ConvNormAct
from sigma.model.grounding.base import Grounder
from sigma.model.grounding.text_encoder import SentenceEncoder

UPSAMPLE = 2  # the head predicts at twice the token grid
HEAD_KEY = "sigma-grounder"  # the one safetensors metadata key of a head: its config as sorted JSON
VOCABULARY_KEY = "vocabulary"  # in that config, the categories the head was trained on


def head_config(path: str | Path) -> dict:
    """The config a head file's header holds (``{}`` for a file without one)."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return dict(json.loads((f.metadata() or {}).get(HEAD_KEY) or "{}"))


class ConceptMaskHead(nn.Module):
    """Backbone levels ``(B, C_l, h, w)`` + text embeddings ``(B, T)`` -> logits ``(B, 1, 2h, 2w)``.

    Visual features are FiLM-modulated by the text, refined by convs, and scored against a text
    query (scaled dot product), so an unseen concept is matched by similarity rather than by id.
    """

    def __init__(self, in_channels: tuple[int, ...], text_dim: int, dim: int):
        super().__init__()
        self.visual = nn.Sequential(nn.Conv2d(sum(in_channels), dim, 1), nn.GELU())
        self.film = nn.Linear(text_dim, 2 * dim)
        self.refine = nn.Sequential(ConvNormAct(dim, dim), ConvNormAct(dim, dim))
        self.query = nn.Linear(text_dim, dim)
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, levels: list[torch.Tensor], text: torch.Tensor) -> torch.Tensor:
        v = self.visual(torch.cat(levels, dim=1))
        gamma, beta = self.film(text)[..., None, None].chunk(2, dim=1)
        v = self.refine(v * (1 + gamma) + beta)
        v = F.interpolate(v, scale_factor=UPSAMPLE, mode="bilinear", align_corners=False)
        q = self.query(text)
        return torch.einsum("bchw,bc->bhw", v, q).unsqueeze(1) / math.sqrt(v.shape[1]) + self.bias


class LearnedGrounder(Grounder):
    """Frozen backbone + frozen sentence encoder + trainable :class:`ConceptMaskHead`.

    A concept counts as found when its map peaks above ``threshold``. ``vocabulary``: the categories the
    head was trained on (``None``: not recorded, as in heads saved before it was). The head maps any
    concept, by its text embedding's likeness to those; :meth:`Grounder.knows` tells the trained ones apart.
    """

    def __init__(
        self,
        backbone: Backbone,
        text_encoder: SentenceEncoder,
        head: ConceptMaskHead,
        threshold: float = 0.5,
        vocabulary: Iterable[str] | None = None,
    ):
        super().__init__()
        self.backbone = backbone
        self.text_encoder = text_encoder
        self.head = head
        self.threshold = threshold
        self.vocabulary = None if vocabulary is None else tuple(sorted(vocabulary))

    def forward(self, levels: list[torch.Tensor], texts: list[str]) -> torch.Tensor:
        """Logits ``(B, 1, 2h, 2w)`` from precomputed backbone levels (training path)."""
        return self.head(levels, self.text_encoder(texts))

    @torch.no_grad()
    def ground(
        self, images: torch.Tensor, concepts: list[str], levels: list[torch.Tensor] | None = None
    ) -> list[torch.Tensor | None]:
        probs = torch.sigmoid(self(levels if levels is not None else self.backbone(images), concepts))[:, 0]
        return [p if p.max() >= self.threshold else None for p in probs]
