"""The IMDL-BenCo export loads in the real ``imdlbenco`` package: ``JsonDataset`` over every split file,
every item, with relative paths (run from OUT) and absolute ones (run from anywhere).

imdlbenco 0.1.45 pins ``numpy<2`` and ``albumentations==1.3.0``, which clash with this project's, so it
runs in a venv of its own, built once and cached under ``~/.cache/sigma/tests``. The venv installs
imdlbenco and its own pins ``--no-deps`` and borrows the rest (torch, timm, opencv, ...) from this
interpreter's site-packages through a ``.pth`` file, which Python puts after the venv's own
packages: the venv's numpy 1.26 shadows ours.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sigma.annotate.run import annotate_corpus
from sigma.model.checkpoint import save_checkpoint
from tests.annotate.outputs import copy_edit_corpus
from tests.conftest import tiny_params
from tests.registry_fixtures import constant_annotator

IMDLBENCO = [
    "imdlbenco==0.1.45",
    "numpy==1.26.4",  # imdlbenco's numpy<2
    "albumentations==1.3.0",
    "qudida==0.0.4",
    "fvcore==0.1.5.post20221221",
    "iopath==0.1.10",
    "yacs==0.1.8",
    "termcolor==3.3.0",
    "portalocker==4.4.2",
]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sigma" / "tests"

# Run inside the imdlbenco venv: every item of every non-empty export file, summarised.
ITERATE = """
import json, sys
from pathlib import Path
from IMDLBenCo.datasets import JsonDataset
report = {}
for name in sys.argv[1:]:
    ds = JsonDataset(name, is_padding=True, output_size=(128, 128))
    items = [ds[i] for i in range(len(ds))]
    report[Path(name).name] = [
        {"label": int(it["label"]), "mask_pixels": int(it["mask"].sum()), "shape": it["origin_shape"].tolist()}
        for it in items
    ]
print(json.dumps(report))
"""


def imdlbenco_python() -> Path:
    """The cached venv's interpreter (built on first use; rebuilt when the pins or our site-packages move)."""
    purelib = sysconfig.get_paths()["purelib"]
    key = hashlib.sha256(json.dumps([IMDLBENCO, purelib, sys.version]).encode()).hexdigest()[:12]
    root = CACHE / f"imdlbenco-{key}"
    python = root / "bin" / "python"
    if (root / ".ready").exists():
        return python
    shutil.rmtree(root, ignore_errors=True)  # a build that was interrupted
    venv.create(root, with_pip=True)
    site = root / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (site / "zz-sigma.pth").write_text(purelib + "\n")  # after the venv's own packages on sys.path
    install = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", *IMDLBENCO]
    proc = subprocess.run(install, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"could not install imdlbenco (needs the package index):\n{proc.stderr[-4000:]}"
    (root / ".ready").touch()
    return python


def _iterate(python: Path, files: list[Path], cwd: Path) -> dict[str, list[dict]]:
    proc = subprocess.run(
        [str(python), "-W", "ignore", "-c", ITERATE, *map(str, files)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ | {"PYTHONNOUSERSITE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("paths", ["relative", "absolute"])
def test_the_real_imdlbenco_json_dataset_iterates_every_exported_item(paths, tiny_project, tmp_path, monkeypatch):
    python = imdlbenco_python()
    monkeypatch.chdir(tiny_project)
    params = tiny_params("annotate.shard_size=4", "annotate.batch_size=4", f"annotate.export_paths={paths}")
    # Marks every pixel: each mask's pixel count must come back as the image's own size, unpadded.
    checkpoint = save_checkpoint(constant_annotator(params, 20.0), tmp_path / "marks_all.safetensors")
    root, out = tmp_path / "corpus", tmp_path / "out"
    pairs = copy_edit_corpus(tiny_project, root)[:10]
    (root / "manifest.jsonl").write_text("".join(p.to_json() + "\n" for p in pairs))
    summary = annotate_corpus(params, str(root), str(out), str(checkpoint), track=False)

    files = [f for f in sorted(out.glob("imdlbenco*.json")) if json.loads(f.read_text())]
    assert len(files) >= 2, "the tiny corpus should have pairs in several splits"
    # relative paths resolve against imdlbenco's working directory: OUT; absolute ones from anywhere
    cwd = out if paths == "relative" else tmp_path / "elsewhere"
    cwd.mkdir(exist_ok=True)
    report = _iterate(python, [f.relative_to(out) if paths == "relative" else f for f in files], cwd)

    n_items = 0
    for file in files:
        entries, items = json.loads(file.read_text()), report[file.name]
        assert len(items) == len(entries)
        for (image, mask), item in zip(entries, items, strict=True):
            assert Path(image).is_absolute() == (paths == "absolute")
            height, width = np.asarray(Image.open(cwd / image)).shape[:2]
            assert item["shape"] == [height, width]
            assert item["label"] == (0 if mask == "Negative" else 1)
            assert item["mask_pixels"] == (0 if mask == "Negative" else height * width)
        n_items += len(items)
    assert n_items == summary["imdlbenco_pairs"] + summary["imdlbenco_negatives"] > len(pairs)
