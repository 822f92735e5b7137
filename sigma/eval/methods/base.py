"""Evaluation methods by name: SIGMA checkpoints and the paper's baselines behind one interface.

A method maps a batch of ``(original, edited, instruction)`` triples (uint8 ``(H, W, 3)`` arrays,
same size within a pair) to one :class:`Prediction` per pair at the pair's resolution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sigma.registry import Registry

Triple = tuple[np.ndarray, np.ndarray, str]


@dataclass
class Prediction:
    """``mask`` ``(H, W)`` bool; ``score`` ``(H, W)`` float32 in [0, 1] that ranks pixels (pixel AUC);
    ``side_effect`` ``(H, W)`` bool within ``mask``: the part the instruction does not explain, from a
    method that splits its masks (None: no split); ``split_unknown``: why such a method left this
    pair's split unknown."""

    mask: np.ndarray
    score: np.ndarray
    side_effect: np.ndarray | None = None
    split_unknown: str | None = None

    @property
    def splits(self) -> bool:
        """Whether the method that made it splits masks (known or not for this pair)."""
        return self.side_effect is not None or self.split_unknown is not None


class Method(Protocol):
    name: str

    def predict(self, triples: Sequence[Triple]) -> list[Prediction]: ...


@dataclass(frozen=True)
class MethodEntry:
    title: str  # as printed in the tables, e.g. "PixDiff-Fixed(10)"
    build: Callable[..., Method]  # build(model=None, threshold=0.5) -> Method
    needs_model: bool
    default_model: str | None = None  # a method with weights of its own (not the evaluated SIGMA model)


METHODS: Registry[MethodEntry] = Registry("method")
list_methods = METHODS.names  # registration order: the tables' column order


def split_method(name: str) -> tuple[str, str | None]:
    """``"sigma@models/old.safetensors"`` -> ``("sigma", "models/old.safetensors")``: a model-based
    method pinned to its own model, so two models are compared in one run."""
    base, _, model = name.partition("@")
    return base, model or None


def method_entry(name: str) -> MethodEntry:
    base, model = split_method(name)
    entry = METHODS.get(base)
    if model is None:
        return entry
    if not entry.needs_model:
        raise ValueError(f"method {base!r} runs no model: {name!r} cannot pin one")
    return MethodEntry(f"{entry.title} [{model}]", entry.build, True, entry.default_model)


def register_method(name: str, title: str, needs_model: bool = False, default_model: str | None = None):
    def decorator(build: Callable[..., Method]):
        METHODS.register(name)(MethodEntry(title, build, needs_model or default_model is not None, default_model))
        return build

    return decorator


def build_method(name: str, model: str | None = None, threshold: float = 0.5, batch_size: int = 8) -> Method:
    """The method registered as ``name``; ``model`` (checkpoint path or MLflow model URI) for the
    methods that run the evaluated SIGMA model. A method with weights of its own runs those (its
    ``default_model``) unless ``name`` pins others (``name@path``)."""
    entry = method_entry(name)
    model = split_method(name)[1] or entry.default_model or model
    if entry.needs_model:
        if not model:
            raise ValueError(f"method {name!r} runs a SIGMA model: give --model (a checkpoint or models:/ URI)")
        return entry.build(model=model, threshold=threshold, batch_size=batch_size)
    return entry.build()
