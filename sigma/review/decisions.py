"""Review decisions, appended to ``OUT/review.jsonl``: one JSON line per decision, the last per id wins.

Locally each decision is one ``write`` of one line to a file opened for appending, under an exclusive
``flock``: two browser tabs, or two servers on one OUT, never interleave or lose a line, and a
killed server leaves whole lines. S3 has no append, so there the whole log is rewritten by one
(atomic) PUT under a lock of this process: review an S3 OUT from one server at a time.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from datetime import UTC, datetime
from typing import Any

from sigma.data import storage
from sigma.review.index import DECISIONS

REVIEW_FILE = "review.jsonl"


class ReviewLog:
    """The decisions of one OUT; ``latest`` maps each reviewed id to its last decision record."""

    def __init__(self, out: str):
        self.uri = storage.join(out.rstrip("/"), REVIEW_FILE)
        self.local = not storage.is_s3(self.uri)
        self.lock = threading.Lock()
        self.lines: list[bytes] = []  # S3 only: the log as written, rewritten whole on each decision
        self.latest: dict[str, dict[str, Any]] = {}
        if storage.exists(self.uri):
            for raw in storage.iter_lines(self.uri):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash mid-write on a file system without atomic appends
                self.latest[record["id"]] = record
                if not self.local:
                    self.lines.append(raw)

    def record(
        self, pair_id: str, decision: str, note: str = "", reviewer: str | None = None, model_version: str | None = None
    ) -> dict[str, Any]:
        """Append one decision; returns its record."""
        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {decision!r}: choose one of {list(DECISIONS)}")
        entry = {
            "id": pair_id,
            "decision": decision,
            "note": note,
            "reviewer": reviewer or None,
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "model_version": model_version,
        }
        line = json.dumps(entry, ensure_ascii=False).encode() + b"\n"
        with self.lock:
            if self.local:
                self._append(line)
            else:
                self.lines.append(line.rstrip(b"\n"))
                storage.write_bytes_atomic(self.uri, b"\n".join(self.lines) + b"\n")
            self.latest[pair_id] = entry
        return entry

    def _append(self, line: bytes) -> None:
        try:
            fd = os.open(self.uri, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise storage.local_error("write", self.uri, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
            os.fsync(fd)
        except OSError as exc:
            raise storage.local_error("write", self.uri, exc) from exc
        finally:
            os.close(fd)  # closing releases the lock

    def decision_of(self, pair_id: str) -> str | None:
        entry = self.latest.get(pair_id)
        return None if entry is None else str(entry["decision"])

    def stats(self, total: int) -> dict[str, Any]:
        counts = {d: 0 for d in DECISIONS}
        for entry in self.latest.values():
            counts[entry["decision"]] += 1
        decided = counts["accept"] + counts["reject"]
        return {
            "total": total,
            "reviewed": len(self.latest),
            "accepted": counts["accept"],
            "rejected": counts["reject"],
            "flagged": counts["flag"],
            "unreviewed": total - len(self.latest),
            "accept_rate": round(counts["accept"] / decided, 4) if decided else None,
        }
