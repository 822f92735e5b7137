"""Text-prompted grounders of the instruction branch, by name."""

from sigma.model.grounding.base import Grounder, NoGrounder
from sigma.model.grounding.registry import build_grounder, list_grounders, register_grounder

__all__ = ["Grounder", "NoGrounder", "build_grounder", "list_grounders", "register_grounder"]
