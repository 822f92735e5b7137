"""The paper profile end to end on CPU: data -> Stage I -> Stage II (registers) -> the change-detection
baseline -> evaluate -> promote -> annotate from ``models:/sigma-annotator@champion``.

Every pretrained part is a tiny stand-in with the real one's architecture and loading path: a ViT
with DINOv2's architecture (random weights), GroundingDINO + SAM (LangSAM), a causal LM parser and a
diffusers VAE, all read from folders as the real weights are. Only sizes, step counts and bf16
(CPU) differ from the paper profile, so this proves its wiring, shapes, checkpoints, pyfunc logging
and promotion, not its numbers."""

from __future__ import annotations

import json

import mlflow
import pytest
from mlflow import MlflowClient

from sigma.annotate.run import annotate_corpus
from sigma.data.builtin import iter_builtin
from sigma.data.photos import fit_max_side
from sigma.data.synth import synthesise
from sigma.eval.promote import promote
from sigma.eval.stages import evaluate_stage
from sigma.model.checkpoint import load_checkpoint
from sigma.train.cd import train_change_detection
from sigma.train.stage1 import train_stage1
from sigma.train.stage2 import train_stage2
from sigma.train.vae import train_vae_stage
from tests.conftest import tiny_params
from tests.stand_ins import tiny_causal_lm, tiny_langsam, tiny_vae

pytestmark = pytest.mark.slow


def _stand_ins(root) -> list[str]:
    """Overrides that keep the paper profile's parts and swap in the tiny weights and sizes."""
    detector, segmenter = tiny_langsam(root / "langsam")
    return [
        "profile=paper",
        # DINOv2's architecture, tiny and untrained: a 70-px input is a 5x5 grid of 14-px patches
        "model.backbone.input_size=70",
        "model.backbone.layers=[0, 1, 2]",
        "model.backbone.kwargs={depth: 3, embed_dim: 32, num_heads: 2}",
        "model.backbone.pretrained=false",
        "model.dim=16",
        "model.heads=2",
        "model.refine.dim=8",
        "model.refine.max_side=96",
        "model.grounder.name=langsam",
        f"model.grounder.detector={detector}",
        f"model.grounder.segmenter={segmenter}",
        f"parse.llm_model={tiny_causal_lm(root / 'lm')}",
        "parse.llm_max_new_tokens=12",
        f"vae.pretrained={tiny_vae(root / 'sd-vae')}",
        "data.sources=[{kind: builtin, max_images: 8}]",
        "data.max_side=96",
        *[
            f"{stage}.{key}"
            for stage in ("stage1", "stage2")
            for key in ("max_steps=2", "batch_size=2", "mixed_precision='no'")
        ],
        "stage1.crop_size=70",
        "stage2.crop_size=70",
        "evaluate.benchmarks=[{name: synth_edit, loader: pairs, path: data/synth/edit}]",
        "evaluate.methods=[pixdiff_otsu, siamese_cd, sigma]",
        "evaluate.robustness.benchmark=synth_edit",
        "ablation.benchmarks=[synth_edit]",
        "evaluate.batch_size=4",
        "promote.benchmarks=[synth_edit]",
        "annotate.batch_size=4",
        "annotate.shard_size=4",
    ]


def test_paper_profile_runs_end_to_end_on_tiny_stand_ins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "paper-path")
    params = tiny_params(*_stand_ins(tmp_path))
    assert params.profile == "paper" and params.model.backbone.name == "dinov2_vitb14"
    assert params.model.decoder_stride == 1 and params.parse.name == "llm"  # the paper's, from the profile

    photos = [fit_max_side(p, params.data.max_side) for p in iter_builtin(n_scenes=8)]
    counts = {"inpaint": 10, "edit": 10, "calib": 4}
    for kind, n in counts.items():
        data = params.data.model_copy(update={kind: getattr(params.data, kind).model_copy(update={"n_pairs": n})})
        synthesise(kind, photos, data, tmp_path / "data" / "synth" / kind)
    assert train_vae_stage(params, track=False)["trained"] is False  # the pretrained VAE is copied, not fitted

    train_stage1(params, track=True)
    stage2 = train_stage2(params, track=True, register=params.promote.name)
    model = load_checkpoint(tmp_path / "models" / "stage2" / "sigma.safetensors")
    assert model.config.backbone.name == "dinov2_vitb14" and model.config.grounder.name == "langsam"
    assert type(model.prior.parser).__name__ == "LLMParser"
    train_change_detection(params, track=False)

    metrics = evaluate_stage(params, tmp_path / "metrics" / "evaluate.json", track=False)
    assert set(metrics["synth_edit"]) == {"pixdiff_otsu", "siamese_cd", "sigma"}

    decision = promote(params, checkpoint="models/stage2/sigma.safetensors")
    assert decision["promoted"] and decision["candidate_version"] == str(stage2["registered_version"])
    client = MlflowClient()
    champion = client.get_model_version_by_alias(params.promote.name, params.promote.alias)
    assert mlflow.pyfunc.load_model(f"models:/{params.promote.name}@champion").metadata.signature is not None

    out = tmp_path / "annotated"
    summary = annotate_corpus(params, corpus="data/synth/edit", out=str(out), track=False)
    records = [json.loads(line) for line in (out / "annotations.jsonl").read_text().splitlines()]
    assert summary["annotated"] == len(records) == counts["edit"] and summary["rejected"] == 0
    assert {r["model_version"] for r in records} == {champion.tags["weights_digest"]}
    assert all(r["parsed"]["patterns"] for r in records if r["instruction"])  # the LLM or its rule fallback
