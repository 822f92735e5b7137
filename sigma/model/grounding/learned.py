"""Offline grounder: a small text-conditioned segmentation head on the frozen backbone."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sigma.model.backbones.base import Backbone
from sigma.model.blocks import ConvNormAct
from sigma.model.grounding.base import Grounder
from sigma.model.grounding.text_encoder import SentenceEncoder

UPSAMPLE = 2  # the head predicts at twice the token grid


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

    A concept counts as found when its map peaks above ``threshold``.
    """

    def __init__(
        self, backbone: Backbone, text_encoder: SentenceEncoder, head: ConceptMaskHead, threshold: float = 0.5
    ):
        super().__init__()
        self.backbone = backbone
        self.text_encoder = text_encoder
        self.head = head
        self.threshold = threshold

    def forward(self, levels: list[torch.Tensor], texts: list[str]) -> torch.Tensor:
        """Logits ``(B, 1, 2h, 2w)`` from precomputed backbone levels (training path)."""
        return self.head(levels, self.text_encoder(texts))

    @torch.no_grad()
    def ground(
        self, images: torch.Tensor, concepts: list[str], levels: list[torch.Tensor] | None = None
    ) -> list[torch.Tensor | None]:
        probs = torch.sigmoid(self(levels if levels is not None else self.backbone(images), concepts))[:, 0]
        return [p if p.max() >= self.threshold else None for p in probs]
