"""The parsed-instruction record every parser returns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

ACTIONS = ("add", "remove", "replace", "attribute_change", "global")
Action = Literal["add", "remove", "replace", "attribute_change", "global"]


class ParsedInstruction(BaseModel):
    """``(original, edited, action)``; an empty slot is ``None``.

    ``original`` is grounded in the original image, ``edited`` in the edited one. An empty or
    unparseable instruction gives ``action=None`` (the grounder then uses the uniform prior).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    original: str | None = None
    edited: str | None = None
    action: Action | None = None

    @field_validator("original", "edited", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "null", "none", "n/a"):
            return None
        return value.strip() if isinstance(value, str) else value

    def as_tuple(self) -> tuple[str | None, str | None, str | None]:
        return self.original, self.edited, self.action
