"""Corpus readers by name: each turns an editing corpus's published layout into edit pairs.

A reader takes the corpus root (local folder or ``s3://`` prefix) and yields resolved
:class:`~sigma.data.pairs.EditPair` records (absolute ``original``/``edited`` paths, the
instruction, ``mask`` only where the corpus has one) **lazily**: a corpus of millions of pairs is
never held in memory. Ids must be unique and stable across runs (they name the output masks).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from sigma.data import storage
from sigma.data.pairs import EditPair
from sigma.registry import Registry

Reader = Callable[[str], Iterator[EditPair]]
READERS: Registry[Reader] = Registry("corpus layout")
register_corpus = READERS.register
corpus_reader = READERS.get
LAYOUT_NAME = re.compile(r"[a-z][a-z0-9_]*")  # what NAME in NAME:ROOT looks like (not a path, not s3)


class CorpusLayoutError(ValueError):
    """A corpus root that does not hold the layout its reader expects; says what is missing."""


def list_corpora() -> list[str]:
    return sorted(READERS.names())


def open_corpus(spec: str) -> Iterator[EditPair]:
    """``NAME:ROOT`` (a registered layout, e.g. ``anyedit:/data/AnyEdit``) or a pair-format folder /
    ``manifest.jsonl`` (local or ``s3://``) -> its pairs, streamed."""
    name, sep, root = spec.partition(":")
    if sep and name in READERS:
        return corpus_reader(name)(root)
    if sep and LAYOUT_NAME.fullmatch(name) and not storage.is_s3(spec) and not Path(spec).exists():
        corpus_reader(name)  # KeyError: an unknown layout (a usage error), naming the known ones
    return corpus_reader("pairs")(spec)
