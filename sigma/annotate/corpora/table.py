"""A generic corpus: any CSV or JSONL table of edit pairs, for corpora without a dedicated reader.

The root is the table itself (``.csv`` / ``.jsonl``, local or ``s3://``) or a folder holding
``metadata.csv`` / ``metadata.jsonl`` directly or in split folders (see
:mod:`sigma.annotate.corpora.common`). Paths are relative to the table's folder. Columns are found
by these aliases (first match wins; image columns also as ``<alias>_file_name`` / ``<alias>_path``
or a ``{"path": ...}`` object):

=============  ===============================================================
original       original, source, input, src_img, source_image
edited         edited, target, output, edited_image, tgt_img
instruction    instruction, prompt, edit, text, edit_instruction
id             id (else ``line-<n>``, the row's line number: stable while the table is)
mask           mask (optional)
category       edit_type, category, task (optional; kept as ``category``)
=============  ===============================================================

``edit_type`` is the category itself when it is one of :data:`~sigma.data.pairs.EDIT_TYPES`,
otherwise mapped by keyword. Ids: ``table/[<split>/]<id>``.
"""

from __future__ import annotations

from collections.abc import Iterator

from sigma.annotate.corpora.base import register_corpus
from sigma.annotate.corpora.common import Columns, keyword_edit_type, read_table_corpus
from sigma.data.pairs import EDIT_TYPES, EditPair

NAME = "table"
EXPECTED = "a .csv/.jsonl table (or metadata.csv|jsonl) with original, edited and instruction columns"
COLUMNS = Columns(
    original=("original", "source", "input", "src_img", "source_image"),
    edited=("edited", "target", "output", "edited_image", "tgt_img"),
    instruction=("instruction", "prompt", "edit", "text", "edit_instruction"),
    id=("id",),
    mask=("mask",),
    category=("edit_type", "category", "task"),
    id_from="line",
)


def edit_type(category) -> str | None:
    c = str(category).strip().lower() if category is not None else None
    return c if c in EDIT_TYPES else keyword_edit_type(category)


@register_corpus(NAME)
def read_table(root: str) -> Iterator[EditPair]:
    return read_table_corpus(NAME, root, EXPECTED, COLUMNS, edit_type)
