"""The MLflow pyfunc flavour through a local registry: log, register, alias, load, predict."""

from __future__ import annotations

import io
import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from PIL import Image

from sigma.data.images import encode_png
from sigma.model.build import PRESETS, build_sigma
from sigma.model.pyfunc import OUTPUT_COLUMNS, log_annotator, predict_frame


@pytest.fixture(scope="module")
def model():
    config = PRESETS["sigma_offline"].model_copy(
        update={"grounder": PRESETS["sigma_offline"].grounder.model_copy(update={"name": "none"})}
    )
    return build_sigma(config).eval()


def _pair(tmp_path, i: int, size=(48, 64)):
    rng = np.random.default_rng(i)
    original = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
    edited = original.copy()
    edited[10:30, 10:30] = 255 - edited[10:30, 10:30]
    paths = []
    for tag, image in (("o", original), ("e", edited)):
        path = tmp_path / f"{i}_{tag}.png"
        path.write_bytes(encode_png(image))
        paths.append(str(path))
    return paths, original, edited


def test_registry_round_trip_predicts_like_the_model(tmp_path, model):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("pyfunc-test")
    with mlflow.start_run():
        info = log_annotator(model, registered_model_name="sigma-annotator")
    MlflowClient().set_registered_model_alias("sigma-annotator", "champion", info.registered_model_version)

    (o1, e1), original, edited = _pair(tmp_path, 1)
    (o2, e2), *_ = _pair(tmp_path, 2, size=(40, 30))
    frame = pd.DataFrame(
        {
            "original": [o1, o2, encode_png(original)],
            "edited": [e1, e2, encode_png(edited)],
            "instruction": ["remove the square", "remove the circle and add a star", None],
        }
    )
    loaded = mlflow.pyfunc.load_model("models:/sigma-annotator@champion")
    out = loaded.predict(frame)

    assert list(out.columns) == list(OUTPUT_COLUMNS)
    assert (out["error"] == "").all()
    masks = [np.array(Image.open(io.BytesIO(b))) for b in out["mask"]]
    assert [m.shape for m in masks] == [(48, 64), (40, 30), (48, 64)]
    direct = model.annotate([(original, edited, "remove the square")])[0]
    np.testing.assert_array_equal(masks[0] > 0, direct.mask)
    assert out.loc[0, "score"] == pytest.approx(direct.score, abs=1e-6)
    assert out.loc[0, "action"] == "remove"
    assert [e["action"] for e in json.loads(out.loc[1, "edits"])] == ["remove", "add"]
    assert out.loc[1, "parse_confidence"] >= 0.5 and out.loc[2, "parse_confidence"] == 0


def test_bad_rows_get_an_error_and_the_rest_is_annotated(tmp_path, model):
    (o1, e1), *_ = _pair(tmp_path, 3)
    (o2, _), *_ = _pair(tmp_path, 4, size=(20, 20))
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"not a png")
    frame = pd.DataFrame(
        {
            "original": [o1, str(tmp_path / "missing.png"), str(corrupt), o2],
            "edited": [e1, e1, e1, e1],
            "instruction": ["", "", "", ""],
        }
    )
    out = predict_frame(model, frame)
    assert out.loc[0, "error"] == "" and len(out.loc[0, "mask"]) > 0
    assert "missing.png" in out.loc[1, "error"]
    assert out.loc[2, "error"]
    assert "size mismatch" in out.loc[3, "error"]


def test_missing_columns_are_named(model):
    with pytest.raises(ValueError, match="edited"):
        predict_frame(model, pd.DataFrame({"original": ["a.png"]}))


def test_the_rest_answer_of_a_bad_row_is_strict_json(tmp_path, model):
    import json

    from mlflow.pyfunc.scoring_server import predictions_to_json

    (o1, e1), *_ = _pair(tmp_path, 5)
    frame = pd.DataFrame({"original": [o1, str(tmp_path / "missing.png")], "edited": [e1, e1], "instruction": ["", ""]})
    buffer = io.StringIO()
    predictions_to_json(predict_frame(model, frame), buffer)  # what `mlflow models serve` sends back

    def reject(constant):
        raise ValueError(f"not strict JSON: {constant}")

    answer = json.loads(buffer.getvalue(), parse_constant=reject)["predictions"]
    assert answer[1]["score"] is None and answer[1]["area"] is None and "missing.png" in answer[1]["error"]
    assert answer[1]["parse_confidence"] is None and answer[1]["edits"] == "[]"
    assert isinstance(answer[0]["score"], float) and answer[0]["error"] == ""
