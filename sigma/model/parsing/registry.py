"""Parsers by name, so ``params.yaml`` (``parse.name``) picks one."""

from __future__ import annotations

from collections.abc import Callable

from sigma.config import ParserParams
from sigma.registry import Registry

PARSERS: Registry[Callable[[ParserParams], object]] = Registry("parser")
register_parser = PARSERS.register


def list_parsers() -> list[str]:
    return sorted(PARSERS.names())


def build_parser(params: ParserParams):
    """The parser ``params.name`` names; raises ``KeyError`` listing the known names."""
    return PARSERS.get(params.name)(params)


@register_parser("rules")
def _rules(params: ParserParams):
    from sigma.model.parsing.rules import RuleParser

    return RuleParser()


@register_parser("llm")
def _llm(params: ParserParams):
    from sigma.model.parsing.llm import LLMParser

    if not params.llm_model:
        raise ValueError("parse.name=llm needs parse.llm_model (a hub id in the local cache or a folder)")
    return LLMParser(params.llm_model, max_new_tokens=params.llm_max_new_tokens, shots=params.llm_shots)
