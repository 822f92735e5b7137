"""Accuracy of an instruction parser on the parse table, by kind of phrasing and by rule pattern.

Scores ``sigma/model/parsing/table.yaml`` (or ``--table`` another file in its format) with the parser
that ``params.yaml`` names (``--parser`` to pick another, ``--set`` to override params), and prints:
action and concept accuracy per kind of phrasing and overall, how often each rule pattern fired and
how often it was right, and (``--misses``) every row it got wrong. Nothing is asserted.

    python scripts/parse_report.py [--parser rules|llm] [--set parse.llm_model=/models/qwen] [--misses]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sigma.config import load_params
from sigma.model.parsing import build_parser
from sigma.model.parsing.table import judge, load_table, score_parser


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parser", help="parser name (default: parse.name of --params)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--table", help="another table file in table.yaml's format (default: the packaged table)")
    ap.add_argument("--misses", action="store_true", help="list every row the parser got wrong")
    args = ap.parse_args()

    overrides = args.overrides + ([f"parse.name={args.parser}"] if args.parser else [])
    section = load_params(args.params, overrides).parse
    parser = build_parser(section)
    rows = load_table(args.table)
    parses = {}
    start = time.perf_counter()
    for row in rows:
        parses[row.text] = parser.parse(row.text)
    seconds = time.perf_counter() - start
    total, by_kind, misses = score_parser(parses.__getitem__, rows)

    console = Console()
    table = Table(title=f"{section.name} parser on {args.table or 'the parse table'} ({len(rows)} rows)")
    for column in ("kind", "rows", "action acc.", "concept acc."):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for kind, score in by_kind.items():
        table.add_row(kind, str(score.rows), f"{score.action_accuracy:.3f}", f"{score.concept_accuracy:.3f}")
    table.add_row("ALL", str(total.rows), f"{total.action_accuracy:.3f}", f"{total.concept_accuracy:.3f}", style="bold")
    console.print(table)

    fired, right = Counter(), Counter()
    for row in rows:
        parsed = parses[row.text]
        ok = all(judge(row, tuple(e.as_tuple() for e in parsed.edits)))
        for name in dict.fromkeys(parsed.patterns):
            fired[name] += 1
            right[name] += ok
    patterns = Table(title="rule patterns: rows each one took part in, and how many of those came out right")
    for column in ("pattern", "rows", "right"):
        patterns.add_column(column, justify="left" if column == "pattern" else "right")
    for name, n in fired.most_common():
        patterns.add_row(name, str(n), f"{right[name] / n:.3f}")
    console.print(patterns)
    sure = sum(p.confidence >= section.min_confidence for p in parses.values())
    console.print(
        f"{sure}/{len(rows)} parses at or above parse.min_confidence {section.min_confidence:g}; "
        f"{1000 * seconds / len(rows):.2f} ms per instruction"
    )
    if args.misses:
        for row, got in misses:
            console.print(f"[red]{row.kind}[/red] {row.text!r}: got {list(got)}, want {list(row.edits)}", markup=True)


if __name__ == "__main__":
    main()
