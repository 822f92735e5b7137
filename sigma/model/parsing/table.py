"""The parse table (``table.yaml``): varied instructions with the edits they mean, and its scores.

Tests hold every parser to it, ``scripts/parse_report.py`` prints its accuracy by kind of phrasing,
and the LLM parser draws its few-shot examples from it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

import yaml

Triple = tuple[str | None, str | None, str | None]


@dataclass(frozen=True)
class TableRow:
    kind: str
    text: str
    edits: tuple[Triple, ...]

    @property
    def unsure(self) -> bool:
        """A row whose object the instruction does not name: a parser must not be confident."""
        return self.kind == "unsure"


@cache
def load_table(path: str | None = None) -> tuple[TableRow, ...]:
    """The packaged table, or another file in its format (``path``)."""
    source = Path(path) if path else files("sigma.model.parsing").joinpath("table.yaml")
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    return tuple(
        TableRow(kind, row[0], tuple(tuple(edit) for edit in row[1:])) for kind, rows in raw.items() for row in rows
    )


@dataclass
class Score:
    rows: int = 0
    action: int = 0
    concept: int = 0

    def add(self, action_ok: bool, concept_ok: bool) -> None:
        self.rows += 1
        self.action += action_ok
        self.concept += concept_ok

    @property
    def action_accuracy(self) -> float:
        return self.action / max(self.rows, 1)

    @property
    def concept_accuracy(self) -> float:
        return self.concept / max(self.rows, 1)


def judge(row: TableRow, predicted: tuple[Triple, ...]) -> tuple[bool, bool]:
    """(actions right, concepts right): every edit in order, and no edit more or less."""
    actions_ok = [e[2] for e in predicted] == [e[2] for e in row.edits]
    concepts_ok = [e[:2] for e in predicted] == [e[:2] for e in row.edits]
    return actions_ok, concepts_ok


def score_parser(parse, rows: tuple[TableRow, ...] | None = None) -> tuple[Score, dict[str, Score], list]:
    """``parse(text) -> ParsedInstruction``; returns the overall score, the score by kind and the
    misses as ``(row, predicted edits)``."""
    total, by_kind, misses = Score(), defaultdict[str, Score](Score), []
    for row in load_table() if rows is None else rows:
        predicted = tuple(edit.as_tuple() for edit in parse(row.text).edits)
        action_ok, concept_ok = judge(row, predicted)
        total.add(action_ok, concept_ok)
        by_kind[row.kind].add(action_ok, concept_ok)
        if not (action_ok and concept_ok):
            misses.append((row, predicted))
    return total, dict(by_kind), misses
