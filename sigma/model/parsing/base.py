"""The parsed-instruction record every parser returns: one or more edits and a confidence."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ACTIONS = ("add", "remove", "replace", "attribute_change", "move", "global")
Action = Literal["add", "remove", "replace", "attribute_change", "move", "global"]


def _blank_is_none(value: object) -> object:
    if isinstance(value, str) and value.strip().lower() in ("", "null", "none", "n/a"):
        return None
    return value.strip() if isinstance(value, str) else value


class Edit(BaseModel):
    """One ``(original, edited, action)``: ``original`` is grounded in the original image, ``edited``
    in the edited one; an empty slot is ``None`` (also when the instruction names no object, as in
    "remove it")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    original: str | None = None
    edited: str | None = None
    action: Action

    @field_validator("original", "edited", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return _blank_is_none(value)

    def as_tuple(self) -> tuple[str | None, str | None, str | None]:
        return self.original, self.edited, self.action


class ParsedInstruction(BaseModel):
    """Every edit an instruction asks for, in order, and how sure the parser is (0–1).

    ``original``/``edited``/``action`` repeat the first edit (``None`` when there is none), so readers
    of single-edit parses keep working. ``ParsedInstruction(original=..., action=...)`` is a one-edit
    parse. ``patterns``: which named rules (or ``"llm"``) produced it, for reports and records.
    An empty or unparseable instruction gives no edit and confidence 0 (the uniform prior).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    original: str | None = None
    edited: str | None = None
    action: Action | None = None
    edits: tuple[Edit, ...] = ()
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    patterns: tuple[str, ...] = ()

    @field_validator("original", "edited", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return _blank_is_none(value)

    @model_validator(mode="before")
    @classmethod
    def _first_edit_mirrors_edits(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if not data.get("edits"):
            if data.get("action") is not None:
                data["edits"] = (Edit(**{k: data.get(k) for k in ("original", "edited", "action")}),)
            elif any(data.get(k) for k in ("original", "edited")):
                raise ValueError("a parse that names a concept needs an action")
        if data.get("edits"):
            first = Edit.model_validate(data["edits"][0]) if isinstance(data["edits"][0], dict) else data["edits"][0]
            for key in ("original", "edited", "action"):
                if data.get(key) is not None and _blank_is_none(data[key]) != getattr(first, key):
                    raise ValueError(f"{key}={data[key]!r} differs from the first edit's {getattr(first, key)!r}")
                data[key] = getattr(first, key)
        if "confidence" not in data:
            data["confidence"] = 1.0 if data.get("edits") else 0.0
        return data

    @classmethod
    def of(cls, edits: list[Edit], confidence: float, patterns: tuple[str, ...] = ()) -> ParsedInstruction:
        return cls(edits=tuple(edits), confidence=round(confidence, 4) if edits else 0.0, patterns=patterns)

    def as_tuple(self) -> tuple[str | None, str | None, str | None]:
        """The first edit's triple (all ``None`` when there is no edit)."""
        return self.original, self.edited, self.action

    def uniform_reason(self, min_confidence: float) -> str | None:
        """Why this parse gives the uniform prior, or ``None`` when it gives an instruction prior."""
        if not self.edits:
            return "no edit found in the instruction"
        if self.confidence < min_confidence:
            return f"parse confidence {self.confidence:.2f} < parse.min_confidence {min_confidence:g}"
        return None
