#!/usr/bin/env bash
# The paper profile on a GPU: a short end-to-end run of the paper path with stand-in weights, then
# `sigma annotate` end to end (real decode, inference in bf16, PNG encode and write, shard commits) at
# 518² with the paper preset, with GPU utilisation sampled alongside. Prints pairs/s, utilisation and
# what bounds the run, against the goal of >= 300 pairs/s on one GPU; JSON and CSV under $OUT.
# A measurement, not a test. Fits a 15-minute device budget (BUDGET, default 600 s, with time to rerun).
#
#   bash scripts/gpu_paper.sh                      # on the GPU machine, from the repository root
#   DEVICE=cpu PAIRS=16 BATCH=4 WORKERS=1 SIZE=140 IMAGE=160x120 PYTHON=.venv/bin/python \
#     SKIP_INSTALL=1 OUT=/tmp/gpupaper bash scripts/gpu_paper.sh   # CPU dry run of the script itself
#
# Settings (environment): OUT (/tmp/out), PYTHON (python3), DEVICE (cuda), PAIRS (4096: generated
# 640x480 pairs), IMAGE (640x480), SIZE (518: model input), BATCH (64), WORKERS (8: decode processes),
# BUDGET (600 s for everything), SKIP_INSTALL (0; 1 skips the wheel install of .whl/*.whl, see
# scripts/gpu_check.sh). Weights: the paper preset with random weights and grounder `none` (LangSAM
# and the LLM parser are not timed here: they are cached per image/concept and per instruction).
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-/tmp/out}
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
PAIRS=${PAIRS:-4096}
IMAGE=${IMAGE:-640x480}
SIZE=${SIZE:-518}
BATCH=${BATCH:-64}
WORKERS=${WORKERS:-8}
BUDGET=${BUDGET:-600}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false

limit() {  # limit N: N seconds, or what is left of BUDGET; 0 when under 20 s are left
    local left=$((BUDGET - SECONDS))
    if [ "$left" -lt 20 ]; then echo 0; elif [ "$left" -lt "$1" ]; then echo "$left"; else echo "$1"; fi
}

if [ "${SKIP_INSTALL:-0}" != 1 ] && compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "wheel install failed"; exit 1; }
    export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
    export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
{ nvidia-smi -L 2>/dev/null || echo "nvidia-smi: not available"; "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } | tee "$OUT/env.txt"

echo "== 1. the paper path with stand-in weights (tests/train/test_paper_path.py)"
t=$(limit 240)
if [ "$t" -gt 0 ] && "$PY" -c "import pytest, mlflow, prefect" 2>/dev/null; then
    timeout -k 5 "$t" "$PY" -m pytest -q -p no:cacheprovider tests/train/test_paper_path.py 2>&1 | tail -5 | tee "$OUT/paper_path.txt"
else
    echo "skipped: no time left, or pytest/mlflow/prefect missing on this machine" | tee "$OUT/paper_path.txt"
fi

echo "== 2. sigma annotate end to end, paper preset @ ${SIZE}², batch $BATCH, $WORKERS decode workers"
t=$(limit 420)
SAMPLER=""
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader,nounits -lms 500 \
        > "$OUT/gpu_util.csv" 2>/dev/null &
    SAMPLER=$!
fi
if [ "$t" -gt 0 ]; then
    timeout -k 5 "$t" "$PY" scripts/bench_annotate.py --device "$DEVICE" --preset sigma_paper --input-size "$SIZE" \
        --image-size "$IMAGE" --pairs "$PAIRS" --batch "$BATCH" --workers "$WORKERS" --no-pixdiff \
        --json "$OUT/annotate_paper.json" 2>&1 | tail -20 || echo "annotate: exit $?"
else
    echo "skipped: BUDGET spent"
fi
[ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null

echo "== summary"
OUT=$OUT "$PY" - <<'EOF'
import csv, json, os
from pathlib import Path

out = Path(os.environ["OUT"])
runs = json.loads((out / "annotate_paper.json").read_text()) if (out / "annotate_paper.json").exists() else []
runs = runs if isinstance(runs, list) else [runs]
util = []
if (out / "gpu_util.csv").exists():
    util = [float(r[1]) for r in csv.reader((out / "gpu_util.csv").read_text().splitlines()) if len(r) > 2]
busy = [u for u in util if u > 0] or util
for run in runs:
    rate = run.get("pairs_per_second", run.get("error", "?"))
    print(f"annotate, paper preset: {rate} pairs/s (goal 300), batch {run.get('batch')}, workers {run.get('workers')}")
if busy:
    mean = sum(busy) / len(busy)
    print(f"GPU utilisation while busy: mean {mean:.0f} %, max {max(busy):.0f} % ({len(util)} samples)")
    print("bound by:", "the GPU (model)" if mean >= 85 else "the input path (decode, PNG encode and write, workers)")
else:
    print("no GPU utilisation samples (no nvidia-smi)")
EOF
