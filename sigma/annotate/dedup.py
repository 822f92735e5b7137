"""Duplicate ids in a corpus: the first occurrence wins, later ones are rejected.

Two records with one id would share a mask file and one would overwrite the other. The ids seen so
far live in an on-disk SQLite index of 16-byte digests, so memory stays flat at any corpus size
(tens of millions of pairs). The index is SQLite's private temporary database: its file is unlinked
as soon as it is opened, so not even a killed run leaves it behind in the temp folder.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator

from sigma.data.pairs import EditPair


class SeenIds:
    """Which ids came before, and at which line (or record number)."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("")  # "": a temporary on-disk database, paged out beyond its cache
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("CREATE TABLE ids (digest BLOB PRIMARY KEY, line INTEGER) WITHOUT ROWID")

    def first_line(self, pair_id: str, line: int) -> int | None:
        """None the first time ``pair_id`` is seen (and remembers ``line``); else its first line."""
        digest = hashlib.blake2b(pair_id.encode("utf-8"), digest_size=16).digest()
        if self.db.execute("INSERT OR IGNORE INTO ids VALUES (?, ?)", (digest, line)).rowcount:
            return None
        return int(self.db.execute("SELECT line FROM ids WHERE digest = ?", (digest,)).fetchone()[0])

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SeenIds:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def first_occurrences(pairs: Iterable[EditPair]) -> Iterator[EditPair]:
    """``pairs`` with every repeat of an earlier id turned into an invalid stand-in (rejected by the
    run with "duplicate id (first at line N)"); the stream keeps its length, so shards do not shift."""
    with SeenIds() as seen:
        for position, pair in enumerate(pairs, start=1):
            extra = pair.model_extra or {}
            if extra.get("invalid_reason"):
                yield pair
                continue
            line = int(extra.get("line") or position)
            first = seen.first_line(pair.id, line)
            if first is None:
                yield pair
            else:
                yield pair.model_copy(update={"invalid_reason": f"duplicate id (first at line {first})"})
