"""OmniEdit-Filtered-1.2M (Wei et al., ICLR 2025, "OmniEdit: Building Image Editing Generalist
Models Through Specialist Supervision"): 1.2M specialist-generated edits in seven tasks (object
swap/removal/addition, attribute modification, background swap, environment change, style).

Published layout (HF ``TIGER-Lab/OmniEdit-Filtered-1.2M``): parquet shards ``data/train-*-of-00571``
and ``data/dev-*`` with ``omni_edit_id`` (e.g. ``task_obj_add_40931``), ``task`` (e.g.
``addition``, ``env``), ``src_img`` / ``edited_img`` (images), ``edited_prompt_list`` (one or more
paraphrases of the instruction), plus width/height and quality scores. Images are embedded, so
this reader expects the rows **exported** (see :mod:`sigma.annotate.corpora.common`)::

    [<split>/]metadata.jsonl|csv   {"omni_edit_id": "...", "task": "...", "src_img": "<rel path>",
                                    "edited_img": "<rel path>", "edited_prompt_list": ["...", ...]}

``instruction`` is the first prompt of ``edited_prompt_list`` (deterministic); the others are kept in
``instruction_alternatives``. Ids: ``omniedit/[<split>/]<omni_edit_id>``. ``edit_type`` from ``task``
by keyword (add / remov / swap -> replace / attr -> attribute_change / background, env, style ->
global; ``task`` kept as ``category``). Confidence: high for the column names
(dataset card, loaders in public training code), medium for the exact ``task`` vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterator

from sigma.annotate.corpora.base import register_corpus
from sigma.annotate.corpora.common import Columns, read_table_corpus
from sigma.data.pairs import EditPair

NAME = "omniedit"
EXPECTED = "exported OmniEdit rows: metadata.jsonl|csv with omni_edit_id, task, src_img, edited_img, edited_prompt_list"
COLUMNS = Columns(
    original=("src_img", "source_image"),
    edited=("edited_img", "edited_image"),
    instruction=("edited_prompt_list", "instruction", "edited_prompt"),
    id=("omni_edit_id", "id"),
    category=("task",),
)


@register_corpus(NAME)
def read_omniedit(root: str) -> Iterator[EditPair]:
    return read_table_corpus(NAME, root, EXPECTED, COLUMNS)
