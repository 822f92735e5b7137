"""Instruction parsers: instruction -> (original concept, edited concept, action), by name."""

from sigma.model.parsing.base import ACTIONS, Edit, ParsedInstruction
from sigma.model.parsing.registry import build_parser, list_parsers
from sigma.model.parsing.rules import RuleParser

__all__ = ["ACTIONS", "Edit", "ParsedInstruction", "RuleParser", "build_parser", "list_parsers"]
