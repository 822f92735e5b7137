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
from sigma.data.dataset import image_view, resize_image, resized
from sigma.model.annotation import Annotation, to_annotation
from sigma.model.backbones.base import Backbone
from sigma.model.bcmr import CrossModalRefinement
from sigma.model.blocks import resample, tokens_to_map
from sigma.model.decoder import FPNMaskDecoder
from sigma.model.difference import DifferenceBranch, levels_to_maps
from sigma.model.geometry import canvas_size, capped_size, crop_resize, letterbox
from sigma.model.grounding.base import Grounder
from sigma.model.intent import IntentEncoder
from sigma.model.parsing.base import ParsedInstruction
from sigma.model.pixel_stats import PixelStatisticsDifference
from sigma.model.postprocess import postprocess
from sigma.model.prior import IntentPrior
from sigma.model.refine import FullResolutionRefiner, Skips
from sigma.model.tiles import combine, needs_tiles, stitch, tile_boxes

# ``(original, edited, instruction)``: uint8 ``(H, W, 3)`` arrays of one size and the edit instruction.
PairTriple = tuple[np.ndarray, np.ndarray, str]


class SigmaAnnotator(nn.Module):
    """Semantic difference (frozen backbone, MSDB, DRBs) + instruction prior (``E_i``) refined
    against each other (BCMR) and decoded (FPN) to edit logits.

    ``grounder`` and ``parser`` serve :meth:`annotate`; :meth:`forward` takes a ready intent map.
    A parse less sure than ``min_confidence`` gives the uniform prior.
    """

    def __init__(
        self,
        backbone: Backbone,
        difference: DifferenceBranch,
        intent_encoder: IntentEncoder,
        refinement: CrossModalRefinement,
        decoder: FPNMaskDecoder,
        grounder: Grounder,
        parser: Any,
        config: ModelParams,
        refiner: FullResolutionRefiner | None = None,
        pixel_stats: PixelStatisticsDifference | None = None,
        min_confidence: float = 0.0,
    ):
        super().__init__()
        self.backbone = backbone
        self.difference = difference
        self.intent_encoder = intent_encoder
        self.refinement = refinement
        self.decoder = decoder
        self.refiner = refiner
        self.pixel_stats = pixel_stats
        self.grounder = grounder.requires_grad_(False)  # trained in its own stage, frozen here
        self.config = config
        self.prior = IntentPrior(parser, grounder, config.eps, config.grounder.cache_size, min_confidence)

    @property
    def input_size(self) -> int:
        return self.backbone.input_size

    def grid(self) -> tuple[int, int]:
        return self.backbone.grid()

    def backbone_pass(
        self, original: torch.Tensor, edited: torch.Tensor
    ) -> tuple[tuple[list[torch.Tensor], list[torch.Tensor]], tuple[list[torch.Tensor], list[torch.Tensor]]]:
        """One frozen pass over both images: ``(f_o, f_e)``, two lists of L maps ``(B, C_l, h, w)``
        on the grid, and ``(s_o, s_e)``, their early skip maps at native strides (maybe empty)."""
        with torch.no_grad():
            feats, skips = self.backbone(torch.cat([original, edited]), with_skips=True)
        b = original.shape[0]
        return ([f[:b] for f in feats], [f[b:] for f in feats]), ([s[:b] for s in skips], [s[b:] for s in skips])

    def backbone_features(
        self, original: torch.Tensor, edited: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """``(f_o, f_e)`` of :meth:`backbone_pass`."""
        return self.backbone_pass(original, edited)[0]

    def coarse_features(
        self,
        original: torch.Tensor,
        edited: torch.Tensor,
        intent: torch.Tensor,
        features: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None,
        with_changes: bool = True,
    ) -> dict[str, torch.Tensor]:
        """The paper's model on the backbone input: ``levels`` (B, L, N, C) refined differences,
        ``changes`` (B, L, N, C) their ``|f_o - f_e|`` projections (for ``L_dis``; left out with
        ``with_changes=False``), ``e_v``, ``e_i``, ``z`` (B, N, C) and ``coarse`` (B, 2, H/s, W/s)
        decoder logits."""
        f_o, f_e = features or self.backbone_features(original, edited)
        grid = (f_o[0].shape[-2], f_o[0].shape[-1])
        extra = self.pixel_stats(original, edited, grid) if self.pixel_stats is not None else None
        levels, e_v = self.difference(f_o, f_e, extra)
        e_i = self.intent_encoder(resample(intent.to(e_v.dtype), grid))
        e_v, e_i, z = self.refinement(e_v, e_i)
        coarse = self.decoder(
            levels_to_maps(levels, grid), tokens_to_map(z, grid), (original.shape[-2], original.shape[-1])
        )
        out = {"levels": levels, "e_v": e_v, "e_i": e_i, "z": z, "coarse": coarse}
        if with_changes:
            out["changes"] = self.difference.msdb.change_vectors(f_o, f_e)
        return out

    def refine(
        self,
        coarse: torch.Tensor,
        pixels: tuple[torch.Tensor, torch.Tensor],
        skips: Skips = ((), ()),
        covered: tuple[float, float] = (1.0, 1.0),
    ) -> torch.Tensor:
        """Coarse logits (covering the ``covered`` share of their map) -> logits ``(B, 2, H, W)`` at
        the size of ``pixels`` (both images ``(B, 3, H, W)``), refined there when the model has a refiner."""
        size = (pixels[0].shape[-2], pixels[0].shape[-1])
        logits = crop_resize(coarse, covered, size)
        if self.refiner is None:
            return logits
        # The skips cover the padded canvas too: keep the pair's share (a no-op when it is all of it).
        s_o, s_e = ([crop_resize(s, covered, (s.shape[-2], s.shape[-1])) for s in side] for side in skips)
        refined: torch.Tensor = self.refiner(logits, *pixels, (s_o, s_e))
        return refined

    def forward_features(
        self,
        original: torch.Tensor,
        edited: torch.Tensor,
        intent: torch.Tensor,
        features: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None,
        pixels: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """:meth:`coarse_features` plus ``logits`` (B, 2, H, W) at the resolution of ``pixels``
        (both images at the output resolution, the same field of view; default: the inputs)."""
        skips: Skips
        if features is None:
            features, skips = self.backbone_pass(original, edited)
        else:
            skips = ((), ())
        out = self.coarse_features(original, edited, intent, features)
        out["logits"] = self.refine(out["coarse"], pixels or (original, edited), skips)
        return out

    def forward(
        self,
        original: torch.Tensor,
        edited: torch.Tensor,
        intent: torch.Tensor,
        pixels: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``original``/``edited`` ``(B, 3, H, W)`` in [0, 1], ``intent`` ``(B, 1, h', w')`` ->
        logits ``(B, 2, H', W')``, at the size of ``pixels`` (default ``H, W``): channel 0 the
        edit, channel 1 intended (vs side-effect)."""
        return self.forward_features(original, edited, intent, pixels=pixels)["logits"]

    def prepare(self, images: Sequence[np.ndarray | torch.Tensor]) -> tuple[torch.Tensor, list[tuple[float, float]]]:
        """``(H, W, 3)`` uint8 arrays (or ``(3, H, W)`` images, uint8 or float in [0, 1]) ->
        ``(B, 3, h, w)`` float in [0, 1] at the model's input size (``S`` square, or less where the
        backbone allows, see :func:`letterbox`), and the share of it each image covers (letterbox;
        all of it when squashed)."""
        device = next(self.parameters()).device
        tensors = [(im if isinstance(im, torch.Tensor) else image_view(im)).to(device) for im in images]
        if self.config.geometry == "squash":
            return resized(tensors, (self.input_size,) * 2).clamp_(0, 1), [(1.0, 1.0)] * len(images)
        batch, covered = letterbox(tensors, self.input_size, self.backbone.size_multiple)
        return batch.clamp_(0, 1), covered

    def pair_pixels(
        self, original: np.ndarray | torch.Tensor, edited: np.ndarray | torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both images (as :meth:`prepare` takes them) -> ``(1, 3, h, w)`` float each at the
        refinement resolution (the pair's, capped)."""
        device = next(self.parameters()).device
        o, e = ((im if isinstance(im, torch.Tensor) else image_view(im)).to(device) for im in (original, edited))
        size = capped_size((o.shape[-2], o.shape[-1]), self.config.refine.max_side)
        return resize_image(o, size), resize_image(e, size)

    def fuse_for_inference(self) -> SigmaAnnotator:
        """Folds the frozen backbone's BatchNorms into its convs (same masks, faster; see
        :meth:`~sigma.model.backbones.base.PretrainedPart.fuse_batchnorm`) and stores the refiner's
        convs channels-last (oneDNN's faster layout for them on a CPU: ~25% less time; not the
        backbone's, which ran slower so). For annotation runs only."""
        self.backbone.fuse_batchnorm()
        if self.refiner is not None:
            self.refiner.to(memory_format=torch.channels_last)
        return self

    @torch.no_grad()
    def iter_outputs(
        self, pairs: Iterable[PairTriple], batch_size: int = 8, use_instruction: bool = True
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
                yield from self._predict_chunk(chunk, use_instruction)
        finally:
            self.train(was_training)

    def _predict_chunk(
        self, chunk: list[PairTriple], use_instruction: bool
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, ParsedInstruction]]:
        """:meth:`iter_outputs` for one batch, in order. Pairs run in groups of one canvas size, so a
        pair's mask never depends on which other pairs share its batch."""
        multiple = None if self.config.geometry == "squash" else self.backbone.size_multiple
        groups: dict[tuple[int, int], list[int]] = {}
        for i, (original, _, _) in enumerate(chunk):
            groups.setdefault(canvas_size(original.shape[:2], self.input_size, multiple), []).append(i)
        outputs: dict[int, tuple[torch.Tensor, torch.Tensor, ParsedInstruction]] = {}
        for index in groups.values():
            outputs.update(zip(index, self._predict_group([chunk[i] for i in index], use_instruction), strict=True))
        for i in range(len(chunk)):
            yield outputs[i]

    def _predict_group(
        self, group: list[PairTriple], use_instruction: bool, whole_pass_only: bool = False
    ) -> list[tuple[torch.Tensor, torch.Tensor, ParsedInstruction]]:
        """Pairs of one canvas size: one backbone and model pass, then each pair refined and resized
        to its own size; a large pair's tiles as well (:mod:`sigma.model.tiles`), then the logit rules.
        ``whole_pass_only``: the first part alone (a tile's own pass)."""
        pixels = [(image_view(o), image_view(e)) for o, e, _ in group]  # uint8, resized before conversion
        (o, covered), (e, _) = self.prepare([p[0] for p in pixels]), self.prepare([p[1] for p in pixels])
        features, skips = self.backbone_pass(o, e)  # one backbone pass serves the grounder too
        shared = features if getattr(self.grounder, "backbone", None) is self.backbone else None
        intent, parsed = self.prior(o, e, [g[2] for g in group], self.backbone.grid((o.shape[-2], o.shape[-1])), shared)
        if not use_instruction:
            intent = torch.full_like(intent, self.config.eps)
        coarse = self.coarse_features(o, e, intent, features, with_changes=False)["coarse"]
        outputs = []
        # Pair by pair: a batch of full-resolution maps outgrows the CPU caches and runs slower.
        for i, (original, _, _) in enumerate(group):
            size = original.shape[:2]
            if self.refiner is None:
                logits = crop_resize(coarse[i : i + 1], covered[i], size)
            else:
                skip_o, skip_e = ([s[i : i + 1] for s in side] for side in skips)
                logits = self.refine(coarse[i : i + 1], self.pair_pixels(*pixels[i]), (skip_o, skip_e), covered[i])
                if tuple(logits.shape[-2:]) != size:  # refined below the pair's size
                    # Channels-first: resampling two channels stored channels-last is ~4x slower.
                    logits = F.interpolate(logits.contiguous(), size=size, mode="bilinear", align_corners=False)
            logits = logits[0].float()
            if not whole_pass_only:
                if needs_tiles(size, self.config.tiles):
                    tiled = self._tiled_logits(group[i], use_instruction)
                    logits = combine(logits, tiled, self.config.tiles.combine)
                logits[0] = postprocess(logits[0], *pixels[i], self.config.postprocess)
            full_intent = crop_resize(intent[i : i + 1].float(), covered[i], size)[0, 0]
            outputs.append((logits, full_intent, parsed[i]))
        return outputs

    def _tiled_logits(self, pair: PairTriple, use_instruction: bool, batch_size: int = 8) -> torch.Tensor:
        """``(2, H, W)`` logits of one pair from its overlapping tiles, each through the whole model
        (its own backbone pass, prior and refinement), stitched; before the logit rules."""
        original, edited, instruction = pair
        cfg = self.config.tiles
        boxes = tile_boxes(original.shape[:2], cfg.size, cfg.overlap)
        tiles = [(original[y0:y1, x0:x1], edited[y0:y1, x0:x1], instruction) for y0, y1, x0, x1 in boxes]
        logits = []
        for start in range(0, len(tiles), batch_size):  # tiles share one size: one canvas per batch
            chunk = tiles[start : start + batch_size]
            logits += [out[0] for out in self._predict_group(chunk, use_instruction, whole_pass_only=True)]
        return stitch(logits, boxes, original.shape[:2])

    def annotate(
        self, pairs: Iterable[PairTriple], batch_size: int = 8, threshold: float | None = None
    ) -> list[Annotation]:
        """One :class:`Annotation` per ``(original, edited, instruction)`` triple, in order, at each
        pair's own resolution (see :meth:`iter_outputs`)."""
        threshold = self.config.threshold if threshold is None else threshold
        return [
            to_annotation(
                logits,
                intent,
                threshold,
                parsed,
                self.config.intended_threshold,
                self.prior.unknown_split_reason(parsed, intent),
                self.config.postprocess.min_region,
            )
            for logits, intent, parsed in self.iter_outputs(pairs, batch_size)
        ]
