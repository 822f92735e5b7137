"""Corpus readers by name (``sigma annotate NAME:ROOT``, ``annotate.corpus`` in params.yaml)."""

# importing the reader modules registers them
from sigma.annotate.corpora import anyedit, crispedit, magicbrush, omniedit, pairs, promptfix, table  # noqa: F401
from sigma.annotate.corpora.base import CorpusLayoutError, corpus_reader, list_corpora, open_corpus, register_corpus

__all__ = ["CorpusLayoutError", "corpus_reader", "list_corpora", "open_corpus", "register_corpus"]
