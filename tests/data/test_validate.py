"""The expectation suite catches each kind of bad row and names it."""

import json
import sys
import types

import numpy as np
import pytest

from sigma.config import ValidateParams
from sigma.data.images import encode_png
from sigma.data.validate import validate_dataset

RGB = np.random.default_rng(0).integers(0, 255, (6, 8, 3), dtype=np.uint8)


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "o.png").write_bytes(encode_png(RGB))
    (tmp_path / "e.png").write_bytes(encode_png(RGB[::-1].copy()))
    (tmp_path / "m.png").write_bytes(encode_png(np.eye(6, 8, dtype=bool)))
    (tmp_path / "small.png").write_bytes(encode_png(RGB[:4]))
    grey = np.full((6, 8), 128, np.uint8)
    (tmp_path / "grey_mask.png").write_bytes(encode_png(grey))
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return tmp_path


def good(pair_id: str, **kw) -> dict:
    return {
        "id": pair_id,
        "original": "o.png",
        "edited": "e.png",
        "mask": "m.png",
        "instruction": "remove it",
        "edit_type": "remove",
        **kw,
    }


def run(folder, rows, **params):
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return validate_dataset(str(folder), ValidateParams(**params))


def test_clean_dataset_passes(folder):
    report = run(folder, [good("a"), good("b", mask=None, edit_type=None, instruction="")])
    assert report.success and report.n_pairs == 2 and not report.failures


@pytest.mark.parametrize(
    "bad, description",
    [
        (good("a"), "ids are unique"),  # duplicates the first row's id
        (good("x", edited="missing.png"), "edited image exists"),
        (good("x", original="corrupt.png"), "original image exists"),
        (good("x", mask="nowhere.png"), "mask (when given) exists"),
        (good("x", edited="small.png", mask=None), "same width and height"),
        (good("x", mask="small.png"), "same width and height"),
        (good("x", mask="grey_mask.png"), "mask holds only 0 and 255"),
        (good("x", instruction="y" * 30), "at most 20 characters"),
        (good("x", edit_type="explode"), "edit_type is one of"),
        ({k: v for k, v in good("x").items() if k != "edited"}, "'edited' path is given"),
        ({k: v for k, v in good("x").items() if k != "id"}, "every pair has an id"),
        (good(" "), "valid edit pair"),
        (good("x", instruction=5), "valid edit pair"),
    ],
)
def test_each_kind_of_bad_row_is_caught_and_named(folder, bad, description):
    report = run(folder, [good("a"), good("b"), bad], max_instruction_chars=20)
    assert not report.success
    hits = [f for f in report.failures if description in f.description]
    assert hits, report.format()
    bad_key = f"{bad.get('id', '')}@line3"
    assert bad_key in hits[0].bad_ids
    assert "b@line2" not in hits[0].bad_ids
    assert bad_key in report.format()


def test_empty_manifest_fails(folder):
    assert not run(folder, []).success


def test_lines_that_are_not_json_objects_are_failures_naming_them_and_the_rest_is_checked(folder):
    import json

    lines = [json.dumps(good("a")).encode(), b'{"id": "\xff"}', b"{not json", b"[1]", json.dumps(good("b")).encode()]
    (folder / "manifest.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    report = validate_dataset(str(folder))
    assert not report.success
    (hit,) = [f for f in report.failures if "UTF-8 JSON object" in f.description]
    assert hit.bad_ids == ["@line2", "@line3", "@line4"]
    assert not any("a@line1" in f.bad_ids or "b@line5" in f.bad_ids for f in report.failures)


def test_a_passing_dataset_is_validated_once_per_content(folder, tmp_path, monkeypatch):
    """Every training stage validates its inputs; the same files need the suite once, and any change
    to a file the manifest names (here a corrupted edited image) runs it again."""
    import sigma.data.validate as validate

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls = []
    monkeypatch.setattr(validate, "validate_dataset", lambda d, p: calls.append(d) or validate_dataset(d, p))
    (folder / "manifest.jsonl").write_text(json.dumps(good("a")) + "\n")
    params = ValidateParams()
    assert validate.validate_once(str(folder), params).success
    assert validate.validate_once(str(folder), params).success
    assert len(calls) == 1
    assert validate.validate_once(str(folder), ValidateParams(max_instruction_chars=100)).success
    assert len(calls) == 2  # other params, another suite

    (folder / "e.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    for _ in range(2):  # a failure is never remembered: each call reports it
        report = validate.validate_once(str(folder), params)
        assert not report.success and "edited image exists" in report.format()
    assert len(calls) == 4


def test_a_changed_check_or_checking_code_validates_again(folder, tmp_path, monkeypatch):
    """Data that passed the old suite is not taken as passing a new one: the key holds the suite's
    expectations and the checking code, not only the data and params."""
    import great_expectations as gx

    import sigma.data.validate as validate

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    calls = []
    monkeypatch.setattr(validate, "validate_dataset", lambda d, p: calls.append(d) or validate_dataset(d, p))
    (folder / "manifest.jsonl").write_text(json.dumps(good("a")) + "\n")
    params = ValidateParams()
    assert validate.validate_once(str(folder), params).success and len(calls) == 1

    real_suite = validate.build_suite

    def stricter(p):
        suite = real_suite(p)
        suite.add_expectation(gx.expectations.ExpectColumnValuesToMatchRegex(column="id", regex="^[0-9]+$"))
        return suite

    monkeypatch.setattr(validate, "build_suite", stricter)
    report = validate.validate_once(str(folder), params)  # "a" fails the new check: not served from the cache
    assert len(calls) == 2 and not report.success
    monkeypatch.setattr(validate, "build_suite", real_suite)

    checking_code = tmp_path / "checks.py"
    checking_code.write_text("# version 1\n")
    monkeypatch.setattr(validate, "CHECK_CODE", (*validate.CHECK_CODE, "checks_under_test"))
    monkeypatch.setitem(sys.modules, "checks_under_test", types.SimpleNamespace(__file__=str(checking_code)))
    validate.validate_once(str(folder), params)
    validate.validate_once(str(folder), params)
    assert len(calls) == 3
    checking_code.write_text("# version 2: a fixed check\n")
    validate.validate_once(str(folder), params)
    assert len(calls) == 4
