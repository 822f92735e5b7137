"""A corpus manifest's bad lines are rejects, never a stop: malformed JSON, non-objects, missing
keys, duplicate ids; a byte-order mark and CRLF line ends are accepted."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sigma.annotate.dedup import SeenIds
from sigma.annotate.run import annotate_corpus
from sigma.cli import EXIT_ALL_REJECTED, EXIT_NO_PAIRS, app
from tests.annotate.outputs import copy_edit_corpus
from tests.conftest import tiny_params

ANNOTATE = ["annotate.shard_size=4", "annotate.batch_size=4", "annotate.workers=0"]


def _lines(out, name):
    path = out / name
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_bad_lines_are_rejected_with_their_line_and_the_good_pairs_annotated_once(
    tiny_project, tmp_path, tiny_checkpoint, monkeypatch
):
    monkeypatch.chdir(tiny_project)
    root = tmp_path / "corpus"
    pairs = copy_edit_corpus(tiny_project, root)[:6]
    good = [p.model_dump_json() for p in pairs]
    lines = [
        "\ufeff" + good[0],  # a byte-order mark, as spreadsheet exports write it
        good[1],
        "{not json",
        "[1, 2]",
        json.dumps({"id": "no-images"}),
        good[2],
        good[1],  # the duplicate of line 2
        good[3],
        json.dumps({"id": 7, "original": ["x"], "edited": "e.png"}),  # wrong types
        "",
        *good[4:],
    ]
    (root / "manifest.jsonl").write_bytes("\r\n".join(lines).encode("utf-8") + b"\r\n")

    out = tmp_path / "out"
    summary = annotate_corpus(tiny_params(*ANNOTATE), str(root), str(out), tiny_checkpoint, track=False)

    records, rejects = _lines(out, "annotations.jsonl"), _lines(out, "rejects.jsonl")
    assert [r["id"] for r in records] == [p.id for p in pairs]  # each good pair once, in order
    reasons = {r["id"]: r["reason"] for r in rejects}
    assert len(rejects) == len(reasons) == 5
    assert "line 3: not valid JSON" in reasons["manifest/line-3"]
    assert "line 4: expected a JSON object, got list" in reasons["manifest/line-4"]
    assert "line 5" in reasons["manifest/line-5"] and "original: Field required" in reasons["manifest/line-5"]
    assert "line 9" in reasons["manifest/line-9"] and "id: Input should be a valid string" in reasons["manifest/line-9"]
    assert reasons[pairs[1].id] == "invalid corpus record: duplicate id (first at line 2)"
    assert summary["rejects_by_reason"] == {"duplicate_id": 1, "invalid_record": 4}
    assert summary["annotated"] == len(pairs) and summary["pairs"] == len(pairs) + 5


@pytest.mark.parametrize(
    ("body", "exit_code", "message", "rejected"),
    [(b"", EXIT_NO_PAIRS, "holds no pairs", 0), (b"{oops\n[]\n", EXIT_ALL_REJECTED, "every pair was rejected", 2)],
    ids=["empty", "all-bad"],
)
def test_an_empty_or_all_bad_manifest_has_its_own_exit_code_and_a_summary(
    body, exit_code, message, rejected, tiny_project, tmp_path, tiny_checkpoint, monkeypatch
):
    monkeypatch.chdir(tiny_project)
    root, out, metrics = tmp_path / "corpus", tmp_path / "out", tmp_path / "annotate.json"
    root.mkdir()
    (root / "manifest.jsonl").write_bytes(body)
    args = ["annotate", str(root), str(out), "--model", str(tiny_checkpoint), "--metrics", str(metrics)]
    result = CliRunner().invoke(app, [*args, "--no-track", *(f"--set={o}" for o in ANNOTATE)])
    assert result.exit_code == exit_code, result.output
    assert message in result.output
    summary = json.loads((out / "summary.json").read_text())  # the outputs are written all the same
    assert summary["annotated"] == 0 and summary["rejected"] == rejected
    assert json.loads(metrics.read_text())["rejected"] == rejected
    assert len(_lines(out, "rejects.jsonl")) == rejected


def test_seen_ids_remember_the_first_line():
    seen = SeenIds()
    try:
        assert seen.first_line("a", 1) is None
        assert seen.first_line("b", 2) is None
        assert seen.first_line("a", 5) == 1
        assert seen.first_line("a/../../x", 6) is None  # ids are data: any string is fine here
    finally:
        seen.close()
