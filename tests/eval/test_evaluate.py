"""The evaluation loop and stages on the tiny project: rejects, groups, metrics files, gallery, robustness."""

from __future__ import annotations

import html
import json
import shutil

import numpy as np
import pytest

from sigma.config import BenchmarkSpec
from sigma.data.builtin import iter_builtin
from sigma.data.dataset import load_pair_arrays
from sigma.data.pairs import EditPair, read_manifest
from sigma.data.photos import fit_max_side
from sigma.data.synth import synthesise
from sigma.eval.benchmarks import iter_benchmark
from sigma.eval.evaluate import evaluate, pair_groups
from sigma.eval.methods import Prediction, build_method
from sigma.eval.robustness import gaussian_blur, gaussian_noise, jpeg, sweep
from sigma.eval.stages import evaluate_stage, robustness_stage
from tests.conftest import tiny_params

BENCHMARKS = [
    "evaluate.benchmarks=[{name: tiny_edit, path: data/synth/edit}, {name: tiny_calib, path: data/synth/calib}]",
    "evaluate.robustness.benchmark=tiny_edit",
]


@pytest.fixture
def project(tiny_project, tmp_path, monkeypatch):
    """A private copy of the tiny project (tests here corrupt files)."""
    root = tmp_path / "project"
    shutil.copytree(tiny_project / "data", root / "data")
    monkeypatch.chdir(root)
    return root


def test_groups_name_the_edit_kind_side_effects_and_strength_bin():
    pair = EditPair(
        id="a", original="o", edited="e", mask="m", side_effect_mask="s", edit_type="remove", perturb_strength=0.6
    )
    assert pair_groups(pair) == ["kind/removal", "kind/side-effect", "strength/0.50-0.75"]
    assert pair_groups(EditPair(id="b", original="o", edited="e", perturb_strength=1.0)) == ["strength/0.75-1.00"]


@pytest.mark.parametrize(
    "edit_type, extra, groups",
    [
        ("attribute_change", {"colour": "red"}, ["kind/recolour", "attribute/recolour"]),
        ("attribute_change", {"attribute": "blur"}, ["kind/recolour", "attribute/blur"]),
        ("copy_move", {"copy": "move"}, ["kind/copy-move", "copy/move"]),
        ("copy_move", {"copy": "duplicate"}, ["kind/copy-move", "copy/duplicate"]),
        ("attribute_change", {}, ["kind/recolour"]),  # a corpus's own pair says no more
    ],
)
def test_attribute_changes_and_copy_moves_are_also_grouped_by_what_they_did(edit_type, extra, groups):
    assert pair_groups(EditPair(id="a", original="o", edited="e", edit_type=edit_type, **extra)) == groups


def test_a_dev_pair_is_also_grouped_by_its_kind_at_its_drift_level():
    pair = EditPair(id="a", original="o", edited="e", edit_type="copy_move", copy="move", drift="heavy")
    assert pair_groups(pair) == ["kind/copy-move", "copy/move", "drift/heavy", "drift/heavy/copy-move"]


def test_a_corrupt_or_missing_pair_is_rejected_with_its_reason_and_the_rest_scored(project):
    pairs = list(iter_benchmark(BenchmarkSpec(name="e", path="data/synth/edit")))
    (project / "data/synth/edit" / pairs[0].edited.split("data/synth/edit/")[1]).write_bytes(b"not a png")
    (project / "data/synth/edit" / pairs[1].original.split("data/synth/edit/")[1]).unlink()
    result = evaluate(build_method("pixdiff_fixed_0"), pairs, batch_size=4)
    assert [r["id"] for r in result.rejects] == [pairs[0].id, pairs[1].id]
    assert "edited" in result.rejects[0]["reason"] and "not found" in result.rejects[1]["reason"]
    assert result.summary["n_manipulated"] == len(pairs) - 2
    assert {"kind", "strength"} <= {g.split("/")[0] for g in result.groups} <= {"kind", "attribute", "copy", "strength"}
    assert sum(result.groups[g]["n_manipulated"] for g in result.groups if g.startswith("strength/")) == len(pairs) - 2


def test_perfect_and_empty_predictions_score_one_and_zero(project):
    pairs = list(iter_benchmark(BenchmarkSpec(name="e", path="data/synth/edit")))
    truths = {}
    for pair in pairs:
        arrays = load_pair_arrays(pair)
        truths[arrays["edited"].tobytes()] = arrays["mask"]

    class Oracle:
        name = "oracle"

        def __init__(self, empty: bool):
            self.empty = empty

        def predict(self, triples):
            masks = [truths[edited.tobytes()] for _, edited, _ in triples]
            masks = [np.zeros_like(m) if self.empty else m for m in masks]
            return [Prediction(m, m.astype(np.float32)) for m in masks]

    perfect = evaluate(Oracle(False), pairs, batch_size=5).summary
    assert perfect["f1"] == perfect["iou"] == perfect["auc"] == 1.0
    assert evaluate(Oracle(True), pairs, batch_size=5).summary["f1"] == 0.0


def test_evaluate_stage_writes_metrics_rejects_and_a_gallery(project, tiny_checkpoint):
    params = tiny_params(*BENCHMARKS, f"evaluate.model={tiny_checkpoint}", "evaluate.gallery_size=4")
    out, gallery = project / "metrics" / "evaluate.json", project / "reports" / "gallery.html"
    evaluate_stage(params, out, methods=["pixdiff_otsu", "sigma"], gallery=gallery, track=False)
    metrics = json.loads(out.read_text())
    assert set(metrics) == {"tiny_edit", "tiny_calib"}
    assert set(metrics["tiny_edit"]) == {"pixdiff_otsu", "sigma"}
    assert 0 <= metrics["tiny_edit"]["sigma"]["f1"] <= 1 and "auc" in metrics["tiny_edit"]["sigma"]
    assert metrics["tiny_calib"]["pixdiff_otsu"]["n_manipulated"] == 0
    assert "clean_fp_rate" in metrics["tiny_calib"]["pixdiff_otsu"]
    assert out.with_suffix(".rejects.jsonl").read_text() == ""
    page = gallery.read_text()
    n_edit = len(read_manifest("data/synth/edit"))
    assert page.count("data:image/jpeg;base64,") == 4 * (4 + 4)  # 4 columns x (4 edit + 4 calib pairs)
    assert "worst cases first" in page and n_edit >= 4
    rows = page.split("<tr>")[2:]  # after the header row: one row per pair, holding its instruction
    assert len(rows) == 8 and all(row.count("class=instr") == 1 and row.count("<img") == 4 for row in rows)
    instructions = {p.id: p.instruction for p in read_manifest("data/synth/edit")}
    for row in rows:
        pair_id = row.split("<b>", 1)[1].split("</b>", 1)[0]
        assert pair_id not in instructions or html.escape(instructions[pair_id]) in row


def test_robustness_sweep_scores_every_point_and_method(project):
    params = tiny_params(
        *BENCHMARKS,
        "evaluate.robustness.methods=[pixdiff_fixed_10, pixdiff_otsu]",
        "evaluate.robustness.jpeg_quality=[90, 60]",
        "evaluate.robustness.noise_variance=[25]",
        "evaluate.robustness.blur_kernel=[15]",
    )
    out = project / "metrics" / "robustness.json"
    robustness_stage(params, out, track=False)
    points = json.loads(out.read_text())["points"]
    assert [(p["perturbation"], p["strength"]) for p in points[::2]] == [
        ("none", 0.0),
        ("jpeg", 90),
        ("jpeg", 60),
        ("noise", 25),
        ("blur", 15),
    ]
    by = {(p["perturbation"], p["method"]): p["f1"] for p in points}
    # Fixed thresholds fall apart under strong noise (every pixel changes), as in the paper.
    assert by[("noise", "pixdiff_fixed_10")] < by[("none", "pixdiff_fixed_10")]


def test_degradations_change_the_image_more_as_strength_grows():
    rng = np.random.default_rng(0)
    image = (rng.random((48, 48, 3)) * 255).astype(np.uint8)
    for make, weak, strong in ((jpeg, 90, 60), (gaussian_noise, 5, 25), (gaussian_blur, 3, 15)):
        err = [np.abs(make(s)(image).astype(int) - image).mean() for s in (weak, strong)]
        assert 0 < err[0] < err[1]
        np.testing.assert_array_equal(make(strong)(image), make(strong)(image))  # deterministic
    assert [p[:2] for p in sweep(tiny_params().evaluate.robustness)][:2] == [("none", 0.0), ("jpeg", 90)]


def test_an_empty_optional_benchmark_is_skipped_and_a_required_one_is_an_error(project, tiny_checkpoint):
    from sigma.data.pairs import write_manifest

    write_manifest(str(project / "data" / "empty"), [])  # the dev benchmark of a clone without ../shared
    optional = (
        "evaluate.benchmarks=[{name: tiny_edit, path: data/synth/edit}, {name: dev, path: data/empty, optional: true}]"
    )
    params = tiny_params(
        optional,
        "evaluate.robustness.benchmark=tiny_edit",
        f"evaluate.model={tiny_checkpoint}",
        "evaluate.gallery_size=2",
    )
    out, gallery = project / "metrics" / "evaluate.json", project / "reports" / "gallery.html"
    evaluate_stage(params, out, methods=["pixdiff_otsu", "sigma"], gallery=gallery, track=False)
    assert set(json.loads(out.read_text())) == {"tiny_edit"}
    assert gallery.read_text().count("data:image/jpeg;base64,") == 4 * 2
    required = optional.replace(", optional: true", "")
    with pytest.raises(ValueError, match="has no pairs"):
        evaluate_stage(
            tiny_params(required, "evaluate.robustness.benchmark=tiny_edit", f"evaluate.model={tiny_checkpoint}"),
            out,
            methods=["pixdiff_otsu"],
            track=False,
        )


def test_a_benchmark_runs_only_the_methods_it_names(project, tiny_checkpoint):
    benchmarks = (
        "evaluate.benchmarks=[{name: all_methods, path: data/synth/edit}, "
        "{name: one_method, path: data/synth/edit, methods: [pixdiff_otsu, sigma]}]"
    )
    out = project / "metrics" / "evaluate.json"
    params = tiny_params(benchmarks, "evaluate.robustness.benchmark=all_methods")
    pinned = f"sigma@{tiny_checkpoint}"  # a pinned checkpoint runs where its method does
    evaluate_stage(params, out, methods=["pixdiff_otsu", "pixdiff_fixed_10", pinned], track=False)
    metrics = json.loads(out.read_text())
    assert set(metrics["all_methods"]) == {"pixdiff_otsu", "pixdiff_fixed_10", pinned}
    assert set(metrics["one_method"]) == {"pixdiff_otsu", pinned}


def test_a_method_that_splits_its_masks_is_scored_on_the_split_where_pairs_carry_side_effects(tmp_path):
    params = tiny_params("data.edit.n_pairs=6", "data.edit.side_effect_prob=1.0", "data.edit.perturb.none_prob=1.0")
    synthesise("edit", [fit_max_side(p, 96) for p in iter_builtin(n_scenes=4)], params.data, tmp_path / "edit")
    pairs = list(iter_benchmark(BenchmarkSpec(name="e", path=str(tmp_path / "edit"))))
    truths = {}
    for pair in pairs:
        arrays = load_pair_arrays(pair)
        truths[arrays["edited"].tobytes()] = (arrays["mask"], arrays["side_effect"])

    class Oracle:
        name = "oracle"

        def __init__(self, split: bool):
            self.split = split

        def predict(self, triples):
            out = []
            for _, edited, _ in triples:
                mask, side = truths[edited.tobytes()]
                side = np.zeros_like(mask) if side is None else side
                out.append(Prediction(mask, mask.astype(np.float32), side if self.split else None))
            return out

    split = evaluate(Oracle(True), pairs, batch_size=4).summary
    assert split["n_side_effect"] >= 1
    assert split["intended_f1"] == split["side_f1"] == split["side_iou"] == 1.0
    assert split.get("side_fp_rate", 0.0) == 0.0
    assert "side_f1" not in evaluate(Oracle(False), pairs, batch_size=4).summary  # no split given, none scored
