"""Frozen backbones shared by both images of a pair."""

from sigma.model.backbones.base import Backbone, PretrainedPart
from sigma.model.backbones.registry import build_backbone, list_backbones, register_backbone

__all__ = ["Backbone", "PretrainedPart", "build_backbone", "list_backbones", "register_backbone"]
