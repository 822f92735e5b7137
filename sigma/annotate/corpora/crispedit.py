"""CrispEdit-2M (built for EditMGT, "EditMGT: Unleashing Potentials of Masked Generative
Transformers in Image Editing"): ~2M high-resolution instruction edits in seven categories: add,
remove, replace, color, motion, background, style.

Published layout (ASSUMED from public processing code, not a dataset card: the third-party
``sam3``/``samtok_edit`` CrispEdit labelling pipelines read it): parquet shards named
``<type>_<NNNNN>.parquet`` (e.g. ``remove_00070.parquet``) with columns ``input_img`` /
``output_img`` (images), ``instruction`` and ``type``. Images are embedded, so this reader expects
the rows **exported** (see :mod:`sigma.annotate.corpora.common`)::

    [<split>/]metadata.jsonl|csv   {"input_img": "<rel path>", "output_img": "<rel path>",
                                    "instruction": "...", "type": "remove",
                                    "shard": "remove_00070", "row_idx": 133}   (shard/row_idx optional)

Ids: ``crispedit/[<split>/]<id column, else <shard>:<row_idx> when exported, else the edited
image's path without suffix>``. ``edit_type``: add/remove/replace as is, color -> attribute_change,
background/style -> global, motion -> other. Confidence: medium for the columns and the seven types
(seen consistently across those scripts), low for anything beyond them.
"""

from __future__ import annotations

from collections.abc import Iterator

from sigma.annotate.corpora.base import register_corpus
from sigma.annotate.corpora.common import Columns, keyword_edit_type, read_table_corpus
from sigma.data.pairs import EditPair

NAME = "crispedit"
EXPECTED = "exported CrispEdit-2M rows: metadata.jsonl|csv with input_img, output_img, instruction, type"
COLUMNS = Columns(
    original=("input_img", "source_image"),
    edited=("output_img", "edited_image"),
    instruction=("instruction",),
    id=("id", "shard+row_idx"),
    category=("type",),
    keep=("shard", "row_idx"),
)
TYPES = {
    "add": "add",
    "remove": "remove",
    "replace": "replace",
    "color": "attribute_change",
    "background": "global",
    "style": "global",
    "motion": "other",
}


def edit_type(category) -> str | None:
    return TYPES.get(str(category).strip().lower()) or keyword_edit_type(category)


@register_corpus(NAME)
def read_crispedit(root: str) -> Iterator[EditPair]:
    return read_table_corpus(NAME, root, EXPECTED, COLUMNS, edit_type)
