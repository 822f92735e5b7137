"""Corpus readers by name: each turns an editing corpus's published layout into edit pairs.

A reader takes the corpus root (local folder or ``s3://`` prefix) and yields resolved
:class:`~sigma.data.pairs.EditPair` records (absolute ``original``/``edited`` paths, the
instruction, ``mask`` only where the corpus has one) **lazily**: a corpus of millions of pairs is
never held in memory. Ids must be unique and stable across runs (they name the output masks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sigma.data.pairs import EditPair

Reader = Callable[[str], Iterator[EditPair]]
_READERS: dict[str, Reader] = {}


class CorpusLayoutError(ValueError):
    """A corpus root that does not hold the layout its reader expects; says what is missing."""


def register_corpus(name: str):
    def decorator(reader: Reader) -> Reader:
        _READERS[name] = reader
        return reader

    return decorator


def list_corpora() -> list[str]:
    return sorted(_READERS)


def corpus_reader(name: str) -> Reader:
    """The reader registered as ``name``; raises ``KeyError`` listing the known names."""
    if name not in _READERS:
        raise KeyError(f"unknown corpus layout {name!r}; known: {list_corpora()}")
    return _READERS[name]


def open_corpus(spec: str) -> Iterator[EditPair]:
    """``NAME:ROOT`` (a registered layout, e.g. ``anyedit:/data/AnyEdit``) or a pair-format folder /
    ``manifest.jsonl`` (local or ``s3://``) -> its pairs, streamed."""
    name, sep, root = spec.partition(":")
    if sep and name in _READERS:
        return corpus_reader(name)(root)
    return corpus_reader("pairs")(spec)
