"""Grounders by name (``model.grounder.name``)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

from sigma.config import GrounderParams
from sigma.model.backbones.base import Backbone
from sigma.model.grounding.base import Grounder, NoGrounder
from sigma.registry import Registry

GROUNDERS: Registry[Callable[..., Grounder]] = Registry("grounder")
register_grounder = GROUNDERS.register


def list_grounders() -> list[str]:
    return sorted(GROUNDERS.names())


def build_grounder(
    params: GrounderParams, backbone: Backbone, pretrained: bool = True, load_head: bool = True
) -> Grounder:
    """The grounder ``params.name`` names. ``backbone`` is shared with the difference branch.

    ``pretrained=False`` skips frozen pretrained weights (a checkpoint supplies them);
    ``load_head=False`` leaves the learned head untrained (its own training stage).
    """
    return GROUNDERS.get(params.name)(params, backbone, pretrained, load_head)


@register_grounder("none")
def _none(params: GrounderParams, backbone: Backbone, pretrained: bool, load_head: bool) -> Grounder:
    return NoGrounder()


@register_grounder("learned")
def _learned(params: GrounderParams, backbone: Backbone, pretrained: bool, load_head: bool) -> Grounder:
    from sigma.model.grounding.learned import VOCABULARY_KEY, ConceptMaskHead, LearnedGrounder, head_config
    from sigma.model.grounding.text_encoder import SentenceEncoder

    text = SentenceEncoder(params.text_encoder, pretrained=pretrained)
    head = ConceptMaskHead(backbone.channels, text.dim, params.dim)
    vocabulary = None
    if load_head and params.weights:
        if Path(params.weights).exists():
            from safetensors.torch import load_model

            load_model(head, params.weights)
            vocabulary = head_config(params.weights).get(VOCABULARY_KEY)
        else:
            warnings.warn(
                f"grounder head {params.weights} not found: the learned grounder is untrained "
                "(run `sigma train grounder` or `dvc repro train_grounder`)",
                stacklevel=2,
            )
    return LearnedGrounder(backbone, text, head, threshold=params.mask_threshold, vocabulary=vocabulary)


@register_grounder("langsam")
def _langsam(params: GrounderParams, backbone: Backbone, pretrained: bool, load_head: bool) -> Grounder:
    from sigma.model.grounding.langsam import LangSamGrounder

    return LangSamGrounder(
        params.detector, params.segmenter, box_threshold=params.box_threshold, text_threshold=params.text_threshold
    )
