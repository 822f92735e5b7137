"""A paged, sortable, filterable view of an annotation run's ``annotations.jsonl`` at any size.

The records are never all in memory: one streaming pass writes, per line, its byte offset and length
and the fields the grid sorts and filters on into a SQLite file in the user's cache (keyed by OUT
and the file's size and modification stamp, so a changed file is re-indexed). A page is then one
indexed query plus one ranged read per record (a seek locally, a ranged GET on S3).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sigma.data import storage

ANNOTATIONS = "annotations.jsonl"
SORTS = {"confidence": "score", "area": "area", "id": "id"}
DECISIONS = ("accept", "reject", "flag")
STATES = (*DECISIONS, "unreviewed")


@dataclass(frozen=True)
class Query:
    """One grid request: the ordering, the filters and the page (1-based)."""

    sort: str = "confidence"
    descending: bool = False
    edit_type: str | None = None
    action: str | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None
    side_effect: bool | None = None
    split_known: bool | None = None  # the intended / side-effect split known (annotations.jsonl split_known)
    state: str | None = None
    page: int = 1
    per_page: int = 48

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"unknown sort {self.sort!r}: choose one of {sorted(SORTS)}")
        if self.state is not None and self.state not in STATES:
            raise ValueError(f"unknown review state {self.state!r}: choose one of {list(STATES)}")
        if self.page < 1 or not 1 <= self.per_page <= 500:
            raise ValueError("page must be >= 1 and per_page between 1 and 500")


def file_stamp(uri: str) -> str:
    """Size and modification stamp (an ETag on S3): a new stamp means a re-index."""
    if storage.is_s3(uri):
        bucket, key = storage.split_s3(uri)
        head = storage.s3_client().head_object(Bucket=bucket, Key=key)
        return f"{head['ContentLength']}-{head['ETag'].strip(chr(34))}"
    stat = os.stat(uri)
    return f"{stat.st_size}-{stat.st_mtime_ns}"


def iter_lines_with_offsets(uri: str) -> Iterator[tuple[int, bytes]]:
    """``(offset, line)`` for each line of ``uri``, the line without its end, streamed."""
    offset = 0
    if storage.is_s3(uri):
        bucket, key = storage.split_s3(uri)
        body = storage.s3_client().get_object(Bucket=bucket, Key=key)["Body"]
        lines: Iterator[bytes] = body.iter_lines(keepends=True)
    else:
        lines = open(uri, "rb")  # noqa: SIM115 - closed when the generator ends
    try:
        for raw in lines:
            yield offset, raw.rstrip(b"\r\n")
            offset += len(raw)
    finally:
        if hasattr(lines, "close"):
            lines.close()


def read_range(uri: str, offset: int, length: int) -> bytes:
    if storage.is_s3(uri):
        bucket, key = storage.split_s3(uri)
        byte_range = f"bytes={offset}-{offset + length - 1}"
        return storage.s3_client().get_object(Bucket=bucket, Key=key, Range=byte_range)["Body"].read()
    with open(uri, "rb") as fh:
        fh.seek(offset)
        return fh.read(length)


SCHEMA = """
CREATE TABLE IF NOT EXISTS ann (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
    score REAL, area REAL, side INTEGER, edit_type TEXT, action TEXT, split TEXT, split_known INTEGER
);
CREATE TABLE IF NOT EXISTS decision (id TEXT PRIMARY KEY, decision TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""
INDEX_VERSION = 2  # part of the cache key: an index file of another layout is never reused
INDEXES = [f"CREATE INDEX IF NOT EXISTS ann_{c} ON ann({c})" for c in ("id", "score", "area", "edit_type", "action")]


class AnnotationIndex:
    """The index of ``OUT/annotations.jsonl``; builds it on first use (``progress(n)`` per 10k lines)."""

    def __init__(self, out: str, progress=None):
        self.out = out.rstrip("/")
        self.uri = storage.join(self.out, ANNOTATIONS)
        if not storage.exists(self.uri):
            raise storage.MissingFile(f"{self.uri} not found: is {self.out} the OUT of a finished `sigma annotate`?")
        key = hashlib.sha256(f"{INDEX_VERSION}\n{self.out}\n{file_stamp(self.uri)}".encode()).hexdigest()[:20]
        path = storage.user_cache("review") / f"{key}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.executescript(SCHEMA)
        if self.db.execute("SELECT value FROM meta WHERE key = 'complete'").fetchone() is None:
            self._build(progress)

    def _build(self, progress) -> None:
        self.db.execute("DELETE FROM ann")
        batch: list[tuple[Any, ...]] = []
        for row, (offset, line) in enumerate(iter_lines_with_offsets(self.uri)):
            if not line.strip():
                continue
            r = json.loads(line)
            action = (r.get("parsed") or {}).get("action")
            side = int(bool(r.get("mask_side")))
            known = r.get("split_known")  # absent from runs before the split could be unknown
            batch.append(
                (
                    row,
                    r["id"],
                    offset,
                    len(line),
                    r["score"],
                    r["area"],
                    side,
                    r.get("edit_type"),
                    action,
                    r.get("split"),
                    None if known is None else int(known),
                )
            )
            if len(batch) == 10_000:
                self.db.executemany("INSERT INTO ann VALUES (?,?,?,?,?,?,?,?,?,?,?)", batch)
                batch.clear()
                if progress is not None:
                    progress(10_000)
        self.db.executemany("INSERT INTO ann VALUES (?,?,?,?,?,?,?,?,?,?,?)", batch)
        for statement in INDEXES:
            self.db.execute(statement)
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('complete', '1')")
        self.db.commit()

    # -- decisions mirrored from review.jsonl, so the review state can be filtered on in SQL --
    def set_decisions(self, decisions: dict[str, str]) -> None:
        with self.lock:
            self.db.execute("DELETE FROM decision")
            self.db.executemany("INSERT INTO decision VALUES (?, ?)", decisions.items())
            self.db.commit()

    def set_decision(self, pair_id: str, decision: str) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO decision VALUES (?, ?)", (pair_id, decision))
            self.db.commit()

    # -- queries --
    def _where(self, q: Query) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        for column, value in (("edit_type", q.edit_type), ("action", q.action)):
            if value:
                clauses.append(f"ann.{column} = ?")
                args.append(value)
        if q.min_confidence is not None:
            clauses.append("ann.score >= ?")
            args.append(q.min_confidence)
        if q.max_confidence is not None:
            clauses.append("ann.score <= ?")
            args.append(q.max_confidence)
        if q.side_effect is not None:
            clauses.append("ann.side = ?")
            args.append(int(q.side_effect))
        if q.split_known is not None:
            clauses.append("ann.split_known = ?")
            args.append(int(q.split_known))
        if q.state == "unreviewed":
            clauses.append("decision.decision IS NULL")
        elif q.state:
            clauses.append("decision.decision = ?")
            args.append(q.state)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def count(self, q: Query) -> int:
        where, args = self._where(q)
        with self.lock:
            return self.db.execute(f"SELECT COUNT(*) FROM ann LEFT JOIN decision USING (id){where}", args).fetchone()[0]

    def rows(self, q: Query, offset: int, limit: int) -> list[tuple[int, int, int, str | None]]:
        """``(row, offset, length, decision)`` of the ``limit`` matches from position ``offset``."""
        where, args = self._where(q)
        direction = "DESC" if q.descending else "ASC"
        sql = (
            f"SELECT row, offset, length, decision.decision FROM ann LEFT JOIN decision USING (id){where} "
            f"ORDER BY ann.{SORTS[q.sort]} {direction}, ann.row ASC LIMIT ? OFFSET ?"
        )
        with self.lock:
            return self.db.execute(sql, [*args, limit, offset]).fetchall()

    def page(self, q: Query) -> list[dict[str, Any]]:
        """The records of ``q``'s page, each with ``row``, ``position`` (in the ordering) and ``decision``."""
        start = (q.page - 1) * q.per_page
        return [
            self._record(row, offset, length) | {"position": start + i, "decision": decision}
            for i, (row, offset, length, decision) in enumerate(self.rows(q, start, q.per_page))
        ]

    def at(self, q: Query, position: int) -> dict[str, Any] | None:
        """The record at ``position`` (0-based) of ``q``'s ordering, or None past the end."""
        found = self.rows(q, position, 1) if position >= 0 else []
        if not found:
            return None
        row, offset, length, decision = found[0]
        return self._record(row, offset, length) | {"position": position, "decision": decision}

    def by_row(self, row: int) -> dict[str, Any]:
        with self.lock:
            found = self.db.execute("SELECT offset, length FROM ann WHERE row = ?", (row,)).fetchone()
        if found is None:
            raise KeyError(f"no annotation at line {row}")
        return self._record(row, *found)

    def row_of(self, pair_id: str) -> int | None:
        with self.lock:
            found = self.db.execute("SELECT row FROM ann WHERE id = ? ORDER BY row LIMIT 1", (pair_id,)).fetchone()
        return None if found is None else int(found[0])

    def _record(self, row: int, offset: int, length: int) -> dict[str, Any]:
        return json.loads(read_range(self.uri, offset, length)) | {"row": row}

    def facets(self) -> dict[str, list[str]]:
        """The edit types and parsed actions present, for the filter menus."""
        with self.lock:
            return {
                column: [v for (v,) in self.db.execute(f"SELECT DISTINCT {column} FROM ann ORDER BY 1") if v]
                for column in ("edit_type", "action")
            }

    def total(self) -> int:
        with self.lock:
            return self.db.execute("SELECT COUNT(*) FROM ann").fetchone()[0]
