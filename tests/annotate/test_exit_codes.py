"""``sigma annotate``'s exit codes, one CLI run per row of the table in docs/annotation.md (3 and 4, with
the outputs they still write: tests/annotate/test_bad_manifest_rows.py); a corpus that cannot be opened
(a typo, an unknown layout) leaves OUT untouched, so the corrected command runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sigma.cli import EXIT_ALL_REJECTED, EXIT_NO_PAIRS, app
from tests.annotate.outputs import copy_edit_corpus
from tests.conftest import ROOT

FAST = ["--model", "method:pixdiff_otsu", "--no-track", "--set", "annotate.workers=0"]


def documented_codes() -> set[int]:
    table = (ROOT / "docs/annotation.md").read_text().split("**Exit codes** of `sigma annotate`", 1)[1]
    return {int(code) for code in re.findall(r"^\| (\d) \|", table.split("\n\n", 2)[1], re.MULTILINE)}


def annotate(*args: str):
    return CliRunner().invoke(app, ["annotate", *args, *FAST])


@pytest.fixture
def corpus(tiny_project, tmp_path) -> Path:
    root = tmp_path / "corpus"
    copy_edit_corpus(tiny_project, root)
    return root


def test_the_documented_table_lists_every_code_tested_here():
    assert documented_codes() == {0, 1, 2, EXIT_NO_PAIRS, EXIT_ALL_REJECTED}


def test_0_pairs_annotated(corpus, tmp_path):
    result = annotate(str(corpus), str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert any((tmp_path / "out/masks").iterdir())


@pytest.mark.parametrize(
    ("typo", "code", "message"),
    [("{root}-typo", 1, "file not found"), ("magicbrsh:{root}", 2, "unknown corpus layout 'magicbrsh'")],
    ids=["missing-folder", "unknown-layout"],
)
def test_a_corpus_that_cannot_be_opened_leaves_out_untouched(typo, code, message, corpus, tmp_path):
    out = tmp_path / "out"
    result = annotate(typo.format(root=corpus), str(out))
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split())
    assert not out.exists()  # nothing written: the corrected command needs no --resume
    assert annotate(str(corpus), str(out)).exit_code == 0


def test_2_unknown_params_key(corpus, tmp_path):
    result = annotate(str(corpus), str(tmp_path / "out"), "--set", "annotate.shard_sise=4")
    assert result.exit_code == 2 and "unknown key" in result.output


def test_1_out_not_writable(corpus, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("OUT's parent is a file")
    result = annotate(str(corpus), str(blocker / "out"))
    assert result.exit_code == 1 and "cannot write" in result.output
