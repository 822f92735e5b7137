"""The SIGMA annotator: parts assembled into one module (see :func:`sigma.model.build.build_sigma`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sigma.config import ModelParams
from sigma.data.dataset import resized, to_tensor
from sigma.model.annotation import Annotation, to_annotation
from sigma.model.backbones.base import Backbone
from sigma.model.bcmr import CrossModalRefinement
from sigma.model.blocks import resample, tokens_to_map
from sigma.model.decoder import FPNMaskDecoder
from sigma.model.difference import DifferenceBranch, levels_to_maps
from sigma.model.grounding.base import Grounder
from sigma.model.intent import IntentEncoder
from sigma.model.parsing.base import ParsedInstruction
from sigma.model.prior import IntentPrior


class SigmaAnnotator(nn.Module):
    """Semantic difference (frozen backbone, MSDB, DRBs) + instruction prior (``E_i``) refined
    against each other (BCMR) and decoded (FPN) to edit logits.

    ``grounder`` and ``parser`` serve :meth:`annotate`; :meth:`forward` takes a ready intent map.
    """

    def __init__(self, backbone: Backbone, difference: DifferenceBranch, intent_encoder: IntentEncoder,
                 refinement: CrossModalRefinement, decoder: FPNMaskDecoder, grounder: Grounder, parser: Any,
                 config: ModelParams):
        super().__init__()
        self.backbone = backbone
        self.difference = difference
        self.intent_encoder = intent_encoder
        self.refinement = refinement
        self.decoder = decoder
        self.grounder = grounder.requires_grad_(False)  # trained in its own stage, frozen here
        self.config = config
        self.prior = IntentPrior(parser, grounder, config.eps, config.grounder.cache_size)

    @property
    def input_size(self) -> int:
        return self.backbone.input_size

    def grid(self) -> tuple[int, int]:
        return self.backbone.grid()

    def backbone_features(self, original: torch.Tensor, edited: torch.Tensor) -> tuple[list, list]:
        """One frozen pass over both images: two lists of L maps ``(B, C_l, h, w)``."""
        with torch.no_grad():
            feats = self.backbone(torch.cat([original, edited]))
        b = original.shape[0]
        return [f[:b] for f in feats], [f[b:] for f in feats]

    def forward_features(self, original: torch.Tensor, edited: torch.Tensor, intent: torch.Tensor,
                         features: tuple[list, list] | None = None) -> dict:
        """Everything training needs: ``levels`` (B, L, N, C) refined differences, ``e_v``, ``e_i``,
        ``z`` (B, N, C) and ``logits`` (B, 2, H, W). ``features``: precomputed :meth:`backbone_features`."""
        f_o, f_e = features or self.backbone_features(original, edited)
        grid = tuple(f_o[0].shape[-2:])
        levels, e_v = self.difference(f_o, f_e)
        e_i = self.intent_encoder(resample(intent.to(e_v.dtype), grid))
        e_v, e_i, z = self.refinement(e_v, e_i)
        logits = self.decoder(levels_to_maps(levels, grid), tokens_to_map(z, grid), tuple(original.shape[-2:]))
        return {"levels": levels, "e_v": e_v, "e_i": e_i, "z": z, "logits": logits}

    def forward(self, original: torch.Tensor, edited: torch.Tensor, intent: torch.Tensor) -> torch.Tensor:
        """``original``/``edited`` ``(B, 3, H, W)`` in [0, 1], ``intent`` ``(B, 1, h', w')`` ->
        logits ``(B, 2, H, W)``: channel 0 the edit, channel 1 intended (vs side-effect)."""
        return self.forward_features(original, edited, intent)["logits"]

    def prepare(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """``(H, W, 3)`` uint8 arrays -> ``(B, 3, S, S)`` float in [0, 1] at the model's input size."""
        device = next(self.parameters()).device
        return resized([to_tensor(im) for im in images], (self.input_size,) * 2).clamp_(0, 1).to(device)

    @torch.no_grad()
    def iter_outputs(self, pairs: Iterable, batch_size: int = 8, use_instruction: bool = True
                     ) -> Iterator[tuple[torch.Tensor, torch.Tensor, ParsedInstruction]]:
        """Per ``(original, edited, instruction)`` triple (uint8 ``(H, W, 3)`` arrays, same size), in
        order: logits ``(2, H, W)`` and the intent map ``(H, W)`` at the pair's resolution, and the parse.

        Parses and grounds (cached) and predicts in batches at the input size. ``use_instruction=False``
        switches the instruction branch off (uniform ``eps`` prior): the feature-difference ablation.
        """
        was_training = self.training
        self.eval()
        it = iter(pairs)
        try:
            while chunk := list(islice(it, batch_size)):
                for original, edited, _ in chunk:
                    if original.shape != edited.shape:
                        raise ValueError(f"size mismatch: original {original.shape[:2]}, edited {edited.shape[:2]}")
                o, e = self.prepare([c[0] for c in chunk]), self.prepare([c[1] for c in chunk])
                features = self.backbone_features(o, e)  # one backbone pass serves the grounder too
                shared = features if getattr(self.grounder, "backbone", None) is self.backbone else None
                intent, parsed = self.prior(o, e, [c[2] for c in chunk], self.grid(), shared)
                if not use_instruction:
                    intent = torch.full_like(intent, self.config.eps)
                logits = self.forward_features(o, e, intent, features)["logits"]
                for (original, _, _), lg, im, p in zip(chunk, logits, intent, parsed, strict=True):
                    full_logits, full_intent = (
                        F.interpolate(x[None].float(), size=original.shape[:2], mode="bilinear",
                                      align_corners=False)[0] for x in (lg, im))
                    yield full_logits, full_intent[0], p
        finally:
            self.train(was_training)

    def annotate(self, pairs: Iterable, batch_size: int = 8, threshold: float | None = None) -> list[Annotation]:
        """One :class:`Annotation` per ``(original, edited, instruction)`` triple, in order, at each
        pair's own resolution (see :meth:`iter_outputs`)."""
        threshold = self.config.threshold if threshold is None else threshold
        return [to_annotation(logits, threshold, parsed)
                for logits, _, parsed in self.iter_outputs(pairs, batch_size)]
