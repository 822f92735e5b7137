"""AnyEdit (Yu et al., CVPR 2025): 2.5M instruction edits over 25 edit types in five groups
(local, global, camera move, implicit, visual-condition editing).

Published layout (HF ``Bin1117/AnyEdit``, linked from github.com/DCDmllm/AnyEdit): parquet shards
``data/{train,validation}-*.parquet`` with columns ``image_id``, ``edit_instruction``,
``edit_type``, ``image_file`` (image), ``edited_file`` (image), ``visual_input`` (image or null),
``input``/``output`` (captions). The GitHub README's per-record JSON uses the same keys with the
instruction under ``edit``. Images are embedded in the parquet, so this reader expects the rows
**exported** (see :mod:`sigma.annotate.corpora.common`)::

    [<split>/]metadata.jsonl|csv   {"image_file": "<rel path>", "edited_file": "<rel path>",
                                    "edit_instruction": "...", "edit_type": "color_alter", ...}
    <the image files the rows point to>

Ids: ``anyedit/[<split>/]<id column, else the edited image's path without suffix>`` — ``image_id``
names the *source* image, shared by its several edits, so it is not used as the pair id (kept as
an extra key, with the ``input``/``output`` captions). ``edit_type`` maps the 25 AnyEdit types
(``TYPES`` below; ``visual_*`` -> other; unknown ones by keyword). Confidence: high for the column names
(HF card ``dataset_info``), medium for the export shape
(our convention, not the authors').
"""

from __future__ import annotations

from collections.abc import Iterator

from sigma.annotate.corpora.base import register_corpus
from sigma.annotate.corpora.common import Columns, keyword_edit_type, read_table_corpus
from sigma.data.pairs import EditPair

NAME = "anyedit"
EXPECTED = "exported AnyEdit rows: metadata.jsonl|csv with image_file, edited_file, edit_instruction, edit_type"
COLUMNS = Columns(
    original=("image_file", "source_image"),
    edited=("edited_file", "edited_image"),
    instruction=("edit_instruction", "edit", "instruction"),
    id=("id", "pair_id"),
    category=("edit_type",),
    keep=("image_id", "input", "output"),
)
TYPES = {
    "add": "add",
    "remove": "remove",
    "replace": "replace",
    "color_alter": "attribute_change",
    "appearance_alter": "attribute_change",
    "material_change": "attribute_change",
    "textual_change": "attribute_change",
    "visual_material_transfer": "attribute_change",
    "background_change": "global",
    "style_change": "global",
    "tune_transfer": "global",
    "action_change": "other",
    "counting": "other",
    "movement": "copy_move",
    "relation": "other",
    "resize": "other",
    "rotation_change": "other",
    "outpaint": "other",
    "implicit_change": "other",
}


def edit_type(category) -> str | None:
    key = str(category).strip().lower().replace(" ", "_") if category is not None else None
    mapped = TYPES.get(key) if key is not None else None
    return mapped or ("other" if key and key.startswith("visual_") else keyword_edit_type(category))


@register_corpus(NAME)
def read_anyedit(root: str) -> Iterator[EditPair]:
    return read_table_corpus(NAME, root, EXPECTED, COLUMNS, edit_type)
