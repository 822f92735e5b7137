"""What a `dvc repro` is about to run, and for how long: the plan printed before a pipeline run.

DVC decides which stages are out of date (``dvc status``); a stage runs when it or any stage it
depends on is. Each stage's expected time is its wall time in the last pipeline run on record
(``reports/stage_times.json``, updated after every run: the stages that ran replace their entries).
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sigma.data.storage import write_json_atomic

STAGE_TIMES_RECORD = Path("reports/stage_times.json")


def repro_targets(command: list[str]) -> list[str] | None:
    """The stage targets of a ``dvc repro [options] [targets]`` command (``[]``: every stage);
    ``None`` for any other command, or one whose options the plan does not model."""
    if command[:2] != ["dvc", "repro"]:
        return None
    args = command[2:]
    if any(a.startswith("-") for a in args):  # --force, --single-item, ...: DVC's own choice differs
        return None
    return args


def stages_to_run(targets: list[str], root: str = ".") -> list[str]:
    """The stages ``dvc repro targets`` would run, dependencies first: each stage of the targets'
    closure (every stage when ``targets`` is empty) that is out of date or depends on one that is."""
    import networkx as nx
    from dvc.repo import Repo

    def name(stage) -> str:
        return getattr(stage, "name", None) or stage.addressing

    with Repo(root) as repo:
        graph = repo.index.graph  # edges from a stage to the stages it depends on
        if targets:
            closure = {s for t in targets for s in repo.stage.collect(t, with_deps=True)}
        else:
            closure = set(graph.nodes)
        changed = set(repo.status(targets=targets or None, with_deps=True))
        order = list(reversed(list(nx.topological_sort(graph.subgraph(closure)))))
        return [
            name(s) for s in order if name(s) in changed or any(name(d) in changed for d in nx.descendants(graph, s))
        ]


def recorded_times(record: Path = STAGE_TIMES_RECORD) -> dict[str, float]:
    """``{stage: seconds}`` of the last run on record (empty when there is none)."""
    return json.loads(record.read_text())["stages"] if record.exists() else {}


def update_record(times: dict[str, float], record: Path = STAGE_TIMES_RECORD) -> None:
    """Replace the recorded times of the stages that ran (atomically); the others keep theirs."""
    if times:
        write_json_atomic(str(record), {"stages": recorded_times(record) | times})


def print_plan(stages: list[str], times: dict[str, float], console: Console | None = None) -> None:
    """A table of the stages about to run with their expected times, and the expected total."""
    title = f"dvc repro will run {len(stages)} stage(s)" if stages else "dvc repro: every stage is up to date"
    table = Table(title=title)
    table.add_column("stage")
    table.add_column("expected (last run on record)", justify="right")
    for stage in stages:
        table.add_row(stage, f"{times[stage] / 60:.1f} min" if stage in times else "no record")
    if stages:
        known = [times[s] for s in stages if s in times]
        unknown = len(stages) - len(known)
        parts = [f"{sum(known) / 60:.1f} min"] if known else []
        parts += [f"{unknown} stage(s) with no record"] if unknown else []
        total = " + ".join(parts)
        table.add_row("total", total, style="bold")
    (console or Console(stderr=True)).print(table)
