"""Named things of one kind (timm-style): ``@REGISTRY.register("name")`` adds a builder, reader or
entry; ``REGISTRY.get("name")`` finds it or raises a ``KeyError`` that lists the known names.

Every pluggable part (backbones, grounders, parsers, evaluation methods and benchmarks, corpus
readers) is looked up through one of these, so ``params.yaml`` picks them by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind  # named in errors: "unknown <kind> 'x'"
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """A decorator that registers its argument as ``name`` and returns it unchanged."""

        def decorator(item: T) -> T:
            self._items[name] = item
            return item

        return decorator

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def get(self, name: str) -> T:
        if name not in self._items:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {sorted(self._items)}")
        return self._items[name]
