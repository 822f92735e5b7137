"""The data flow runs the same stage functions as the CLI, on Prefect's ephemeral API."""

import json

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_data_flow_synthesises_and_validates(tmp_path, monkeypatch):
    from prefect.testing.utilities import prefect_test_harness

    from flows.data import data_flow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    overrides = ["data.sources=[{kind: builtin}]", "data.inpaint.n_pairs=2", "data.edit.n_pairs=3", "data.calib.n_pairs=2",
                 "data.edit.perturb.vae=null", "data.calib.perturb.vae=null"]  # no trained VAE in a clean clone
    with prefect_test_harness():
        summaries = data_flow(str(ROOT / "params.yaml"), overrides, str(tmp_path / "synth"), str(tmp_path / "v.json"))
    assert {k: s["n_pairs"] for k, s in summaries.items()} == {"inpaint": 2, "edit": 3, "calib": 2}
    assert json.loads((tmp_path / "v.json").read_text())["success"] is True
