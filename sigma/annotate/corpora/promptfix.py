"""PromptfixData (Yu et al., NeurIPS 2024, "PromptFix: You Prompt and We Fix the Photo"): ~1M
instruction-following low-level restoration/editing pairs (colourisation, dehazing, desnowing,
low-light enhancement, deblurring, super-resolution, watermark and object removal, ...).

Published layout (HF ``yeates/PromptfixData``, github.com/yeates/PromptFix): parquet shards
``data/train-*.parquet`` with ``input_img`` / ``processed_img`` (images), ``instruction``,
``auxiliary_prompt`` (a description of the input, kept as an extra key) and ``task_id`` (string).
Images are embedded, so this reader expects the rows **exported** (see
:mod:`sigma.annotate.corpora.common`)::

    [<split>/]metadata.jsonl|csv   {"input_img": "<rel path>", "processed_img": "<rel path>",
                                    "instruction": "...", "task_id": "...", "auxiliary_prompt": "..."}

``original`` = ``input_img`` (the degraded photo), ``edited`` = ``processed_img``. The corpus has no
pair id column: ids are ``promptfix/[<split>/]<id column if exported, else the processed image's
path without suffix>``. ``edit_type`` from ``task_id``: object / watermark removal -> ``remove``,
every other (whole-image restoration) task -> ``global``. Confidence: high for the column names (HF
card ``dataset_info``), low for the ``task_id`` vocabulary (not documented; mapped by keyword).
"""

from __future__ import annotations

from collections.abc import Iterator

from sigma.annotate.corpora.base import register_corpus
from sigma.annotate.corpora.common import Columns, read_table_corpus
from sigma.data.pairs import EditPair

NAME = "promptfix"
EXPECTED = "exported PromptfixData rows: metadata.jsonl|csv with input_img, processed_img, instruction, task_id"
COLUMNS = Columns(
    original=("input_img", "source_image"),
    edited=("processed_img", "edited_image"),
    instruction=("instruction",),
    id=("id",),
    category=("task_id", "task"),
    keep=("auxiliary_prompt",),
)


def edit_type(category) -> str | None:
    if category in (None, ""):
        return None
    c = str(category).lower()
    return "remove" if ("object" in c and "remov" in c) or "watermark" in c else "global"


@register_corpus(NAME)
def read_promptfix(root: str) -> Iterator[EditPair]:
    return read_table_corpus(NAME, root, EXPECTED, COLUMNS, edit_type)
