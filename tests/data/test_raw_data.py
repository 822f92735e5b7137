"""`make run` on a clone without a reachable remote rebuilds data/raw from the built-in sources;
that only works if the rebuild hashes to exactly what data.dvc records."""

import subprocess
import sys
from pathlib import Path

import yaml

from sigma.data.builtin import iter_builtin, write_coco
from sigma.data.photos import iter_coco
from tests.conftest import ROOT

DVC = str(Path(sys.executable).parent / "dvc")


def test_bootstrap_reproduces_the_hash_in_data_dvc(tmp_path):
    subprocess.run([DVC, "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    write_coco(iter_builtin(), tmp_path / "data" / "raw" / "builtin")
    subprocess.run([DVC, "add", "-q", "data/raw"], cwd=tmp_path, check=True)
    rebuilt = yaml.safe_load((tmp_path / "data" / "raw.dvc").read_text())["outs"][0]
    recorded = yaml.safe_load((ROOT / "data.dvc").read_text())["outs"][0]
    assert recorded["path"] == "data/raw"
    assert (rebuilt["md5"], rebuilt["nfiles"]) == (recorded["md5"], recorded["nfiles"])


def test_builtin_coco_round_trip(tmp_path):
    photos = list(iter_builtin(n_scenes=3))
    write_coco(iter(photos), tmp_path)
    back = list(iter_coco(str(tmp_path / "images"), str(tmp_path / "annotations.json"), "builtin"))
    assert [p.id for p in back] == [p.id for p in photos]
    for a, b in zip(photos, back, strict=True):
        assert (a.image == b.image).all()
        assert [(i.category, i.mask.sum()) for i in a.instances] == [(i.category, i.mask.sum()) for i in b.instances]
        assert all((x.mask == y.mask).all() for x, y in zip(a.instances, b.instances, strict=True))
