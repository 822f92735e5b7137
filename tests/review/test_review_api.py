"""The review app through FastAPI's test client: paging, sorting, filters, decisions (last wins, concurrent
writers, a restarted server), pictures, the calibration plot and the export that honours decisions."""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from sigma.annotate.run import annotate_corpus
from sigma.review.app import create_app
from sigma.review.export import export_reviewed
from tests.conftest import tiny_params
from tests.review.conftest import ANNOTATE, decisions, records
from tests.s3_fixtures import moto_s3  # noqa: F401  (fixture)


def _all(client: TestClient, **query) -> list[dict]:
    items, page = [], 1
    while True:
        body = client.get("/api/annotations", params={**query, "page": page, "per_page": 5}).json()
        items += body["items"]
        if page * 5 >= body["total"]:
            return items
        page += 1


def test_pages_cover_every_annotation_once_in_the_chosen_order(annotated):
    client = TestClient(create_app(str(annotated)))
    expected = records(annotated)
    first = client.get("/api/annotations", params={"per_page": 5}).json()
    assert first["total"] == len(expected) and len(first["items"]) == 5
    worst_first = _all(client)
    assert sorted(r["id"] for r in worst_first) == sorted(r["id"] for r in expected)
    scores = [r["score"] for r in worst_first]
    assert scores == sorted(scores)  # confidence ascending: the worst first
    assert [r["position"] for r in worst_first] == list(range(len(expected)))
    assert [r["area"] for r in _all(client, sort="area", order="desc")] == sorted(
        (r["area"] for r in expected), reverse=True
    )
    assert [r["id"] for r in _all(client, sort="id")] == sorted(r["id"] for r in expected)
    assert client.get("/api/annotations", params={"sort": "colour"}).status_code == 422


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        ({"edit_type": "remove"}, lambda r: r["edit_type"] == "remove"),
        ({"action": "add"}, lambda r: r["parsed"]["action"] == "add"),
        ({"min_conf": "0.15", "max_conf": "0.9"}, lambda r: 0.15 <= r["score"] <= 0.9),
        ({"side": "yes"}, lambda r: r["mask_side"] is not None),
        ({"side": "no"}, lambda r: r["mask_side"] is None),
        ({"attribution": "unknown"}, lambda r: not r["split_known"]),
    ],
    ids=["edit-type", "action", "confidence", "side-effect", "no-side-effect", "split-unknown"],
)
def test_filters_keep_exactly_the_matching_annotations(annotated, query, matches):
    client = TestClient(create_app(str(annotated)))
    expected = sorted(r["id"] for r in records(annotated) if matches(r))
    assert 0 < len(expected) < len(records(annotated)), "a filter the tiny corpus cannot tell apart"
    assert sorted(r["id"] for r in _all(client, **query)) == expected


def test_decisions_last_one_wins_and_a_restarted_server_picks_them_up(annotated):
    client = TestClient(create_app(str(annotated), reviewer="ana"))
    first, second = records(annotated)[:2]
    for pair_id, decision in ((first["id"], "accept"), (second["id"], "flag"), (first["id"], "reject")):
        answer = client.post("/api/decisions", json={"id": pair_id, "decision": decision, "note": "seen"})
        assert answer.status_code == 200
    stats = answer.json()["stats"]
    assert (stats["reviewed"], stats["accepted"], stats["rejected"], stats["flagged"]) == (2, 0, 1, 1)
    assert stats["unreviewed"] == len(records(annotated)) - 2
    log = decisions(annotated)
    assert [(d["id"], d["decision"]) for d in log] == [
        (first["id"], "accept"),
        (second["id"], "flag"),
        (first["id"], "reject"),
    ]
    assert log[0]["reviewer"] == "ana" and log[0]["note"] == "seen" and log[0]["time"]
    assert log[0]["model_version"] == first["model_version"]
    assert [r["id"] for r in _all(client, state="reject")] == [first["id"]]
    assert first["id"] not in {r["id"] for r in _all(client, state="unreviewed")}

    restarted = TestClient(create_app(str(annotated)))
    assert restarted.get("/api/stats").json() == client.get("/api/stats").json()
    assert [r["id"] for r in _all(restarted, state="flag")] == [second["id"]]
    assert client.post("/api/decisions", json={"id": "no-such-pair", "decision": "accept"}).status_code == 404
    assert client.post("/api/decisions", json={"id": first["id"], "decision": "maybe"}).status_code == 422


def test_concurrent_decisions_from_two_tabs_are_all_kept_whole(annotated):
    app = create_app(str(annotated))
    ids = [r["id"] for r in records(annotated)]
    posts = [(ids[i % len(ids)], ("accept", "reject", "flag")[i % 3]) for i in range(60)]

    def tab(chunk: list[tuple[str, str]]) -> None:
        client = TestClient(app)  # each tab its own connection
        for pair_id, decision in chunk:
            assert client.post("/api/decisions", json={"id": pair_id, "decision": decision}).status_code == 200

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(tab, [posts[i::4] for i in range(4)]))
    log = decisions(annotated)  # every line parses: no two writes interleaved
    assert sorted((d["id"], d["decision"]) for d in log) == sorted(posts)
    last = {}
    for entry in log:
        last[entry["id"]] = entry["decision"]
    stats = TestClient(create_app(str(annotated))).get("/api/stats").json()
    assert stats["reviewed"] == len(last)
    assert stats["accepted"] == sum(d == "accept" for d in last.values())


def test_pages_pictures_and_the_calibration_plot(annotated):
    client = TestClient(create_app(str(annotated)))
    record = records(annotated)[0]
    grid = client.get("/", params={"per_page": 4})
    assert grid.status_code == 200 and "pairs match" in grid.text and "/detail?per_page=4&amp;pos=0" in grid.text
    detail = client.get("/detail", params={"pos": 1})
    assert detail.status_code == 200 and 'id="detail"' in detail.text
    assert "parse confidence" in detail.text and "prior: " in detail.text  # every edit, how sure, what prior
    assert client.get("/detail", params={"pos": 10_000}).status_code == 404
    for kind in ("original", "edited", "overlay", "layer"):
        picture = client.get(f"/picture/0/{kind}")  # row 0: the first line, ``record``
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    layer = Image.open(io.BytesIO(client.get("/picture/0/layer").content))
    assert layer.mode == "RGBA" and layer.size == (record["width"], record["height"])
    assert client.get("/picture/0/colour").status_code == 422
    assert client.get("/picture/99999/edited").status_code == 404

    for pair, decision in zip(
        records(annotated)[:6], ["accept", "accept", "reject", "flag", "accept", "reject"], strict=True
    ):
        client.post("/api/decisions", json={"id": pair["id"], "decision": decision})
    calibration = client.get("/api/calibration").json()
    assert calibration["reviewed"] == 6
    assert sum(b["accepted"] for b in calibration["bins"]) == 3
    assert sum(b["rejected"] for b in calibration["bins"]) == 2
    before = {p: p.stat().st_mtime_ns for p in annotated.rglob("*")}
    assert client.get("/calibration.png").content[:4] == b"\x89PNG"
    assert client.get("/api/calibration").json() == calibration
    assert {p: p.stat().st_mtime_ns for p in annotated.rglob("*")} == before  # a GET writes nothing into OUT


@pytest.mark.parametrize("mode", ["accepted-only", "exclude-rejected"])
def test_the_export_honours_the_decisions(annotated, tmp_path, mode):
    client = TestClient(create_app(str(annotated)))
    pairs = records(annotated)
    verdicts = {pairs[0]["id"]: "accept", pairs[1]["id"]: "reject", pairs[2]["id"]: "flag", pairs[3]["id"]: "accept"}
    for pair_id, decision in verdicts.items():
        client.post("/api/decisions", json={"id": pair_id, "decision": decision})
    cfg = tiny_params("annotate.min_area=0", "annotate.skip_global=false").annotate
    summary = export_reviewed(str(annotated), cfg, mode, str(tmp_path / "export"))

    kept = [
        p["id"]
        for p in pairs
        if (verdicts.get(p["id"]) == "accept") or (mode == "exclude-rejected" and verdicts.get(p["id"]) != "reject")
    ]
    assert (summary["accepted"], summary["rejected"], summary["flagged"]) == (2, 1, 1)
    assert summary["unreviewed"] == len(pairs) - 4 and summary["exported"] == len(kept)
    manifest = [json.loads(line) for line in (tmp_path / "export/manifest.jsonl").read_text().splitlines()]
    assert [m["id"] for m in manifest] == kept
    assert all(
        (tmp_path / "export" / m["mask"]).is_file() and (tmp_path / "export" / m["edited"]).is_file() for m in manifest
    )
    exported_masks = {
        entry[1]
        for file in (tmp_path / "export").glob("imdlbenco*.json")
        for entry in json.loads(file.read_text())
        if entry[1] != "Negative"
    }
    assert exported_masks == {m["mask"] for m in manifest}
    assert json.loads((tmp_path / "export/summary.json").read_text()) == summary
    calibration = json.loads((tmp_path / "export/review_calibration.json").read_text())  # into DEST, not OUT
    assert calibration["reviewed"] == 4 and (tmp_path / "export/review_calibration.png").stat().st_size > 0
    assert not list(annotated.glob("review_calibration.*"))


@pytest.mark.integration
def test_an_s3_out_is_reviewed_and_exported_in_place(moto_s3, tiny_project, tiny_checkpoint, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tiny_project)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    s3 = boto3.client("s3", endpoint_url=moto_s3)
    s3.create_bucket(Bucket="review")
    params = tiny_params(*ANNOTATE)
    annotate_corpus(params, str(tiny_project / "data/synth/edit"), "s3://review/run", tiny_checkpoint, track=False)

    client = TestClient(create_app("s3://review/run", root=str(tiny_project)))
    page = client.get("/api/annotations", params={"per_page": 4}).json()
    assert page["total"] == 16 and len(page["items"]) == 4
    assert client.get(f"/picture/{page['items'][0]['row']}/overlay", params={"max_side": 64}).status_code == 200
    for item, decision in zip(page["items"], ["accept", "reject", "accept", "flag"], strict=True):
        assert client.post("/api/decisions", json={"id": item["id"], "decision": decision}).status_code == 200
    log = s3.get_object(Bucket="review", Key="run/review.jsonl")["Body"].read().decode().splitlines()
    assert [json.loads(line)["decision"] for line in log] == ["accept", "reject", "accept", "flag"]
    assert TestClient(create_app("s3://review/run")).get("/api/stats").json()["reviewed"] == 4  # restarted

    summary = export_reviewed("s3://review/run", params.annotate, "accepted-only", root=str(tiny_project))
    assert summary["exported"] == summary["accepted"] == 2
    manifest = s3.get_object(Bucket="review", Key="run/reviewed/manifest.jsonl")["Body"].read().decode()
    assert sorted(json.loads(line)["id"] for line in manifest.splitlines()) == sorted(
        page["items"][i]["id"] for i in (0, 2)
    )
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="review", Prefix="run/")["Contents"]}
    exported = ("summary.json", "review_calibration.png", "review_calibration.json")
    assert {f"run/reviewed/{name}" for name in exported} <= keys
    assert not keys & {"run/review_calibration.png", "run/review_calibration.json"}  # OUT is only read
