"""Where an annotation run writes (a local folder or an ``s3://`` prefix), and how a shard commits.

::

    OUT/run.json                      what produced OUT (corpus, model, params): --resume must match
    OUT/masks/<name>.png              0/255 at the edited image's resolution
    OUT/masks_side/<name>.png         the unintended-change part, when it is not empty and the split is known
    OUT/masks_intended/<name>.png     the mask without that part (annotate.export_mask: intended), likewise
    OUT/shards/<k>.annotations.jsonl  records of shard k      } written before the marker
    OUT/shards/<k>.rejects.jsonl      rejects of shard k      }
    OUT/shards/<k>.done.json          the commit marker: shard k is complete
    OUT/annotations.jsonl  OUT/rejects.jsonl  OUT/imdlbenco[.<split>].json  OUT/summary.json  OUT/area_histogram.png

Commit protocol (exactly once): locally a shard's masks are written into ``OUT/.staging/<k>/`` and
renamed into place at commit; on S3 they are PUT to their final keys (a PUT is atomic). In both
cases the shard's records and then its marker are written last, so a shard without a marker is
redone from scratch on ``--resume``; because inference is deterministic it rewrites the same bytes
under the same names, so the end result equals an uninterrupted run. A resumed run first deletes
the temp files and staged masks a killed writer left behind.

A corpus may grow by appending (new files in its prefix, new manifest lines): on ``--resume`` the
committed shards stay, the last one is redone when it was partial and has grown, and the new pairs
form new shards. Any other change of a committed shard's pairs is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from sigma.data import storage

RUN_FILE = "run.json"


MAX_NAME = 120  # characters of an id kept in its mask's file name


def mask_name(pair_id: str) -> str:
    """A file name for ``pair_id``: the id where it is already safe, else a sanitised id plus a short
    hash (so two ids that sanitise alike never collide)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", pair_id)
    if safe == pair_id and not pair_id.startswith(".") and len(pair_id) <= MAX_NAME:
        return f"{pair_id}.png"
    # Cut long ids: file systems refuse names over 255 bytes, and the hash keeps cut ids apart.
    return f"{safe.lstrip('.')[:MAX_NAME]}-{hashlib.sha1(pair_id.encode()).hexdigest()[:10]}.png"


class OutputLayout:
    """Paths of one run's outputs under ``root`` and the shard commit."""

    def __init__(self, root: str):
        self.root = root.rstrip("/")
        self.local = not storage.is_s3(root)

    def path(self, rel: str) -> str:
        return storage.join(self.root, rel)

    def shard_file(self, index: int, kind: str) -> str:
        return self.path(f"shards/{index:06d}.{kind}")

    def is_done(self, index: int) -> dict | None:
        """The shard's marker (its digest and counts) when it committed, else None."""
        marker = self.shard_file(index, "done.json")
        return json.loads(storage.read_bytes(marker)) if storage.exists(marker) else None

    def shard_pair_ids(self, index: int) -> set[str]:
        """Ids of the pairs committed shard ``index`` annotated or rejected."""
        return {
            json.loads(line)["id"]
            for kind in ("annotations.jsonl", "rejects.jsonl")
            for line in storage.iter_lines(self.shard_file(index, kind))
        }

    def staging(self, index: int) -> Path | None:
        """A clean local staging folder for shard ``index`` (None on S3: masks go straight to their keys)."""
        if not self.local:
            return None
        folder = Path(self.root) / ".staging" / f"{index:06d}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder

    def write_mask(self, staging: Path | None, rel: str, data: bytes) -> None:
        if staging is None:
            storage.write_bytes_atomic(self.path(rel), data)
        else:
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)

    def commit(self, index: int, staging: Path | None, records: list[dict], rejects: list[dict], marker: dict) -> None:
        """Move staged masks into place, write the shard's records, then its marker (the commit point)."""
        if staging is not None:
            for src in sorted(p for p in staging.rglob("*") if p.is_file()):
                dst = Path(self.root) / src.relative_to(staging)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
            shutil.rmtree(staging, ignore_errors=True)
        for kind, rows in (("annotations.jsonl", records), ("rejects.jsonl", rejects)):
            storage.write_bytes_atomic(
                self.shard_file(index, kind), "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
            )
        storage.write_json_atomic(self.shard_file(index, "done.json"), marker)

    def clear_partial_writes(self) -> None:
        """Remove what a killed run left half-written (temp files, staged masks) before resuming it."""
        for folder in (self.root, self.path("shards")):
            storage.remove_partial_writes(folder)
        if self.local:
            for local_folder in (Path(self.root) / ".staging", *Path(self.root).glob(".finalize-*")):
                shutil.rmtree(local_folder, ignore_errors=True)

    def read_run(self) -> dict | None:
        uri = self.path(RUN_FILE)
        return json.loads(storage.read_bytes(uri)) if storage.exists(uri) else None

    def has_outputs(self) -> bool:
        try:
            return bool(storage.list_files(self.root))
        except storage.StorageError:
            return False
