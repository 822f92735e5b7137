"""MagicBrush (Zhang et al., NeurIPS 2023 D&B) as a corpus: every turn of every edit session, with
its annotator-painted mask where the turn has one and ``mask=None`` where it has none.

Layout: the one the ``magicbrush`` benchmark loader reads (OSU-NLP-Group/MagicBrush README, the
``train``/``dev``/``test`` zips; see :mod:`sigma.eval.benchmarks.magicbrush`)::

    [<split>/]edit_sessions.json   {"<img_id>": [{"input", "output", "mask", "instruction"}, ...]}
    [<split>/]images/<img_id>/<img_id>-{input,output<t>,mask<t>}.png

Discovery and turn parsing are the benchmark loader's own (``find_sessions``, ``session_turns``),
so ids match it: ``magicbrush/[<split>/]<img_id>-<turn>``. ``edit_sessions.json`` is a single JSON
object, not line-oriented, so each one is parsed whole (a few MB for MagicBrush) and its turns are
yielded lazily. A file that is not valid JSON, a session that is not a list of objects and a turn
without an input or output image each come as an invalid pair (see
:mod:`sigma.annotate.corpora.common`). MagicBrush has no edit categories: ``edit_type`` is None.
The HF parquet copy (``osunlp/MagicBrush``) must be exported to this layout first. Confidence:
high (same layout as the benchmark loader).
"""

from __future__ import annotations

from collections.abc import Iterator

from sigma.annotate.corpora.base import CorpusLayoutError, register_corpus
from sigma.data import storage
from sigma.data.pairs import EditPair, invalid_pair
from sigma.eval.benchmarks.base import BenchmarkLayoutError
from sigma.eval.benchmarks.layout import absolute_root, parts, read_json
from sigma.eval.benchmarks.magicbrush import find_sessions, session_turns

NAME = "magicbrush"


@register_corpus(NAME)
def read_magicbrush(root: str) -> Iterator[EditPair]:
    root = absolute_root(root)
    try:
        sessions = find_sessions(root)
    except BenchmarkLayoutError as exc:
        raise CorpusLayoutError(str(exc)) from None
    return _pairs(root, sessions)


def _pairs(root: str, sessions: list[str]) -> Iterator[EditPair]:
    for rel in sessions:
        split, where = (parts(rel)[0] if len(parts(rel)) == 2 else None), storage.join(root, rel)
        try:
            obj = read_json(root, rel)
        except (ValueError, storage.StorageError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            obj = f"not valid JSON ({exc})"
        if not isinstance(obj, dict):
            reason = obj if isinstance(obj, str) else "expected a JSON object of sessions"
            yield invalid_pair(NAME, 1, f"{where}: {reason}", split, label="edit_sessions")
            continue
        for img_id, turns in obj.items():
            if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
                yield invalid_pair(
                    NAME,
                    1,
                    f"{where}: session {img_id}: expected a list of turn objects",
                    split,
                    label=f"{img_id}-session",
                )
                continue
            yield from (_pair(root, t) for t in session_turns(rel, {img_id: turns}))


def _pair(root: str, t: dict) -> EditPair:
    missing = [k for k in ("input", "output") if not t["edit"].get(k)]
    if missing:
        return invalid_pair(
            NAME,
            t["turn"],
            f"turn {t['turn']} of {t['img_id']}: no {' or '.join(missing)} image",
            t["split"],
            label=t["id"].rpartition("/")[2],
        )
    return EditPair(
        id=t["id"],
        original=storage.join(root, t["input"]),
        edited=storage.join(root, t["output"]),
        mask=storage.join(root, t["mask"]) if t["mask"] else None,
        instruction=t["instruction"] or "",
        source=NAME,
        split=t["split"],
        corpus=NAME,
        img_id=t["img_id"],
        turn=t["turn"],
    )
