"""The great-expectations suite every edit-pair manifest must pass before a stage uses it.

File-level facts (readable, sizes, mask binary) are measured per row into a DataFrame; the suite
then states the contract over its columns, and the report names the ids of the bad rows.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from sigma.config import ValidateParams
from sigma.data import storage
from sigma.data.images import ImageDecodeError, decode_mask, image_size
from sigma.data.pairs import EDIT_TYPES, ManifestError, manifest_rows, manifest_uri, parse_pair

CHECKS = {
    "line_ok": "each line is a UTF-8 JSON object",
    "schema_ok": "the row is a valid edit pair (types and required keys of the pair format)",
    "original_readable": "original image exists and its header decodes",
    "edited_readable": "edited image exists and its header decodes",
    "mask_readable": "mask (when given) exists and decodes",
    "sizes_agree": "original, edited and mask have the same width and height",
    "mask_binary": "mask holds only 0 and 255",
}


@dataclass
class Failure:
    expectation: str
    column: str
    description: str
    bad_ids: list[str]


@dataclass
class ValidationReport:
    dataset: str
    n_pairs: int
    success: bool
    failures: list[Failure] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self, max_ids: int = 10) -> str:
        head = f"{self.dataset}: {self.n_pairs} pairs, {'PASSED' if self.success else 'FAILED'}"
        lines = [head]
        for f in self.failures:
            more = f" (+{len(f.bad_ids) - max_ids} more)" if len(f.bad_ids) > max_ids else ""
            lines.append(
                f"  - {f.description} [{f.expectation} on '{f.column}']: {', '.join(f.bad_ids[:max_ids])}{more}"
            )
        return "\n".join(lines)


def _size(uri: str | None, max_pixels: int) -> tuple[int, int] | None:
    if not isinstance(uri, str) or not uri:
        return None
    try:
        return image_size(storage.read_bytes(uri), max_pixels=max_pixels)
    except (storage.StorageError, ImageDecodeError):
        return None


def _mask_is_binary(uri: str, max_pixels: int) -> bool:
    data = storage.read_bytes(uri)
    decode_mask(data, max_pixels=max_pixels)  # raises on corrupt data
    values = np.unique(np.asarray(Image.open(io.BytesIO(data)).convert("L")))
    return set(values.tolist()) <= {0, 255}


def measure(dataset: str, params: ValidateParams) -> pd.DataFrame:
    """One row per manifest line: the pair's fields plus the measured check columns."""
    root = storage.parent(manifest_uri(dataset))
    rows = []
    for lineno, parsed in manifest_rows(dataset):
        # A line that is not an object fails `line_ok` (and the checks it cannot pass) and the
        # validation goes on to report every other line too.
        obj = parsed if isinstance(parsed, dict) else {}
        row: dict[str, Any] = {
            "line_ok": isinstance(parsed, dict),
            "line": lineno,
            "id": obj.get("id"),
            "original": obj.get("original"),
            "edited": obj.get("edited"),
            "mask": obj.get("mask"),
            "instruction": obj.get("instruction") or "",
            "edit_type": obj.get("edit_type"),
        }
        if row["id"] is not None:
            row["id"] = str(row["id"])
        try:
            parse_pair(obj)
            row["schema_ok"] = True
        except ManifestError:
            row["schema_ok"] = False
        paths = {
            k: storage.join(root, row[k]) if isinstance(row[k], str) and row[k] else None
            for k in ("original", "edited", "mask")
        }
        sizes = {k: _size(v, params.max_pixels) for k, v in paths.items()}
        row["original_readable"] = sizes["original"] is not None
        row["edited_readable"] = sizes["edited"] is not None
        row["mask_readable"] = paths["mask"] is None or sizes["mask"] is not None
        present = [s for s in sizes.values() if s is not None]
        row["sizes_agree"] = len(set(present)) <= 1
        try:
            row["mask_binary"] = paths["mask"] is None or (
                row["mask_readable"] and _mask_is_binary(paths["mask"], params.max_pixels)
            )
        except (storage.StorageError, ImageDecodeError):
            row["mask_binary"] = False
        rows.append(row)
    return pd.DataFrame(rows)


def build_suite(params: ValidateParams):
    import great_expectations as gx

    E = gx.expectations
    suite = gx.ExpectationSuite(name="edit_pairs")
    suite.add_expectation(E.ExpectColumnValuesToNotBeNull(column="id", description="every pair has an id"))
    suite.add_expectation(E.ExpectColumnValuesToBeUnique(column="id", description="ids are unique"))
    for column in ("original", "edited"):
        suite.add_expectation(E.ExpectColumnValuesToNotBeNull(column=column, description=f"'{column}' path is given"))
    for column, description in CHECKS.items():
        suite.add_expectation(E.ExpectColumnValuesToBeInSet(column=column, value_set=[True], description=description))
    suite.add_expectation(
        E.ExpectColumnValueLengthsToBeBetween(
            column="instruction",
            min_value=0,
            max_value=params.max_instruction_chars,
            description=f"instruction is at most {params.max_instruction_chars} characters",
        )
    )
    suite.add_expectation(
        E.ExpectColumnValuesToBeInSet(
            column="edit_type", value_set=list(EDIT_TYPES), description=f"edit_type is one of {', '.join(EDIT_TYPES)}"
        )
    )
    return suite


DEFAULT_VALIDATE_PARAMS = ValidateParams()  # frozen: safe to share as a default


def validate_dataset(dataset: str, params: ValidateParams = DEFAULT_VALIDATE_PARAMS) -> ValidationReport:
    """Run the suite on a dataset folder or manifest (local or ``s3://``) in an ephemeral context."""
    import great_expectations as gx

    df = measure(dataset, params)
    if df.empty:
        return ValidationReport(dataset, 0, False, [Failure("non_empty", "id", "manifest has at least one pair", [])])
    df["key"] = df["id"].fillna("").astype(str) + "@line" + df["line"].astype(str)
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # our own output names the bad rows
    batch_def = (
        context.data_sources.add_pandas("manifest")
        .add_dataframe_asset("pairs")
        .add_batch_definition_whole_dataframe("all")
    )
    batch = batch_def.get_batch(batch_parameters={"dataframe": df})
    result = batch.validate(
        build_suite(params), result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["key"]}
    )
    failures = [
        Failure(
            r.expectation_config.type,
            r.expectation_config.kwargs.get("column", ""),
            r.expectation_config.description or r.expectation_config.type,
            sorted({row["key"] for row in r.result.get("unexpected_index_list") or []}),
        )
        for r in result.results
        if not r.success
    ]
    return ValidationReport(dataset, len(df), bool(result.success), failures)


# The modules whose code measures the columns the suite checks: a change to any re-runs the checks.
CHECK_CODE = ("sigma.data.validate", "sigma.data.images", "sigma.data.pairs")


def suite_fingerprint(params: ValidateParams) -> str:
    """What a verdict depends on besides the data: the suite itself (every expectation's type, column,
    bounds and description), the code that measures the checked columns, and great-expectations'
    version. A changed check re-runs on data that passed the old one."""
    import great_expectations as gx

    gx.get_context(mode="ephemeral")  # the suite's expectations need a context to be built
    expectations = [e.configuration.to_json_dict() for e in build_suite(params).expectations]
    digest = hashlib.sha1(json.dumps(expectations, sort_keys=True, default=str).encode())
    digest.update(gx.__version__.encode())
    for module in CHECK_CODE:
        digest.update(Path(str(importlib.import_module(module).__file__)).read_bytes())
    return digest.hexdigest()


def local_fingerprint(dataset: str, params: ValidateParams) -> str | None:
    """A key that changes whenever the dataset may have: the manifest's bytes and, for every file it
    names, its path, size, modification time and inode (the stat key DVC's own state uses), plus the
    suite and the checking code (:func:`suite_fingerprint`). ``None`` when the manifest or a file lies
    on S3 (validated every time)."""
    uri = manifest_uri(dataset)
    if storage.is_s3(uri):
        return None
    digest = hashlib.sha1(suite_fingerprint(params).encode())
    root = storage.parent(uri)
    try:
        digest.update(Path(uri).read_bytes())
        for _, row in manifest_rows(dataset):
            for key in ("original", "edited", "mask", "side_effect_mask"):
                rel = row.get(key) if isinstance(row, dict) else None
                if not isinstance(rel, str) or not rel:
                    continue
                path = storage.join(root, rel)
                if storage.is_s3(path):
                    return None
                st = os.stat(path)
                digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\n".encode())
    except (OSError, ManifestError, storage.StorageError):
        return None  # validate_dataset says what is wrong
    return digest.hexdigest()


def validate_once(dataset: str, params: ValidateParams = DEFAULT_VALIDATE_PARAMS) -> ValidationReport:
    """:func:`validate_dataset`, skipped when these very files already passed under these params:
    each training stage validates its inputs, and the same few thousand pairs need the suite once.
    Passing reports are remembered in the user's cache by :func:`local_fingerprint`; a failing
    dataset is validated every time, so its report always names what is wrong now."""
    key = local_fingerprint(dataset, params)
    remembered = storage.user_cache("validated") / f"{key}.json" if key else None
    if remembered is not None and remembered.is_file():
        return ValidationReport(**json.loads(remembered.read_text()))
    report = validate_dataset(dataset, params)
    if remembered is not None and report.success:
        remembered.parent.mkdir(parents=True, exist_ok=True)
        storage.write_json_atomic(str(remembered), report.to_dict())
    return report
