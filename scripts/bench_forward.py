"""Forward-throughput micro-benchmark of SIGMA (pairs/s on CPU). A measurement, not a test.

Times :meth:`SigmaAnnotator.forward` only -- backbone on both images, difference branch, ``E_i``,
BCMR and decoder -- under ``torch.inference_mode()`` with ``model.eval()``; the intent map is a
uniform tensor (``model.eps`` on the token grid), so parsing and grounding are not timed.

Default configurations: ``sigma_offline`` at 256² and ``sigma_paper`` at 518², batch 1 and 8.
``--preset``/``--size``/``--batch`` (repeatable) give the cross product instead. Each
configuration runs in a fresh subprocess so that its peak RSS (``resource.getrusage``) is its own.

Weights: ``--weights auto`` (default) loads the offline preset's packaged MobileNetV2 weights when
they are installed and builds every other backbone with random weights (``pretrained=False``;
weights do not change the arithmetic). The paper's LangSAM grounder is swapped for ``none``: it
needs weights that are not available offline, and it is not part of the forward anyway.

Shared machines: the timings are only meaningful on an otherwise idle machine. With 2 OpenMP
threads on 2 cores, one core taken by another process makes the forward up to ~70x slower (the
threads wait for each other at every op). Each configuration therefore reports ``other CPU``
(cores used by other processes while it was timed, from /proc/stat); ``--retries N`` reruns a
contended configuration after waiting for an idle machine.

``--set KEY=VALUE`` overrides a ``model:`` key (dotted, e.g. ``--set decoder_stride=8 --set
'backbone.layers=[4,7,14]'``; the input size is ``--size``) for what-if measurements;
``--breakdown`` adds a per-part time split (forward hooks on the top-level parts and the DRBs,
timed in separate iterations).

GPU: ``--device cuda`` moves the model and inputs to the GPU, synchronises around every timed
forward and reports the peak of ``torch.cuda.max_memory_allocated`` next to the RSS; ``--amp bf16``
runs the forward under ``torch.autocast`` (either device). The CPU-contention columns stay, but only
mean something on the CPU.

Example::

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_forward.py --json bench.json
    HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_forward.py --preset sigma_offline --size 256 \\
        --batch 1 --batch 8 --breakdown --set dim=64
    HF_HUB_OFFLINE=1 python3 scripts/bench_forward.py --preset sigma_paper --size 518 --batch 8 \\
        --device cuda --amp bf16
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from collections import defaultdict
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEFAULT_CONFIGS = (("sigma_offline", 256), ("sigma_paper", 518))
DEFAULT_BATCHES = (1, 8)
AMP_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}  # --amp: torch dtype names


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _system_busy_s() -> float:
    """CPU seconds all processes spent busy so far (/proc/stat; 0 where unavailable)."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        tree = tree.setdefault(key, {})
    tree[leaf] = value


def make_config(preset: str, size: int, overrides: list[str]):
    from sigma.config import ModelParams, parse_override
    from sigma.model.build import PRESETS

    tree = PRESETS[preset].model_dump()
    tree["backbone"]["input_size"] = size
    if tree["grounder"]["name"] == "langsam":  # needs GroundingDINO + SAM weights; not in forward()
        tree["grounder"]["name"] = "none"
    for text in overrides:
        _set_dotted(tree, *parse_override(text))
    return ModelParams.model_validate(tree)


def _use_pretrained(config, weights: str) -> bool:
    if weights != "auto":
        return weights == "pretrained"
    if config.backbone.name != "mobilenet_v2_imagenet" or config.backbone.weights:
        return False
    try:
        from sigma.model.backbones.mobilenet import packaged_weights

        packaged_weights()
        return True
    except FileNotFoundError:
        return False


class PartTimer:
    """Wall time per module between its forward pre-hook and its forward hook."""

    def __init__(self, model, names: list[str], sync=lambda: None):
        import time as _t

        modules = dict(model.named_modules())
        self.totals: dict[str, float] = defaultdict(float)
        self.handles = []
        self._start: dict[str, float] = {}
        for name in names:
            if name not in modules:
                continue
            m = modules[name]

            def pre(_m, _i, name=name):
                sync()
                self._start[name] = _t.perf_counter()

            def post(_m, _i, _o, name=name):
                sync()
                self.totals[name] += _t.perf_counter() - self._start.pop(name)

            self.handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def run_one(spec: dict[str, Any]) -> dict[str, Any]:
    """Build one configuration and time it (runs inside the worker subprocess)."""
    import torch

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    from sigma.model.build import build_sigma

    device = torch.device(spec.get("device", "cpu"))
    cuda = device.type == "cuda"
    sync = (lambda: torch.cuda.synchronize(device)) if cuda else (lambda: None)
    amp = spec.get("amp", "none")
    autocast = (
        torch.autocast(device.type, dtype=getattr(torch, AMP_DTYPES[amp]))
        if amp != "none"
        else contextlib.nullcontext()
    )
    config = make_config(spec["preset"], spec["size"], spec["overrides"])
    pretrained = _use_pretrained(config, spec["weights"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_sigma(config, pretrained=pretrained, load_grounder=False).eval().to(device)
    rss_build = _rss_mib()
    b, s = spec["batch"], spec["size"]
    g = torch.Generator().manual_seed(0)
    original, edited = torch.rand(b, 3, s, s, generator=g), torch.rand(b, 3, s, s, generator=g)
    original, edited = original.to(device), edited.to(device)
    intent = torch.full((b, 1, *model.grid()), config.eps, device=device)
    if cuda:
        sync()
        cuda_build_mib = torch.cuda.memory_allocated(device) / 2**20
        torch.cuda.reset_peak_memory_stats(device)

    times: list[float] = []
    load_before = os.getloadavg()[0]
    with torch.inference_mode(), autocast:
        t_start = time.perf_counter()
        for _ in range(max(1, spec["warmup"])):
            model(original, edited, intent)
            sync()
            if time.perf_counter() - t_start > spec["max_seconds"] / 2:
                break
        t_start, cpu_start, busy_start = time.perf_counter(), _cpu_s(), _system_busy_s()
        while len(times) < spec["iters"]:
            t0 = time.perf_counter()
            model(original, edited, intent)
            sync()
            times.append(time.perf_counter() - t0)
            if len(times) >= spec["min_iters"] and time.perf_counter() - t_start > spec["max_seconds"]:
                break
        wall, cpu = time.perf_counter() - t_start, _cpu_s() - cpu_start
        foreign = max(0.0, (_system_busy_s() - busy_start - cpu) / wall)
        breakdown, breakdown_foreign = None, None
        if spec["breakdown"]:
            names = [
                "backbone",
                "difference.msdb",
                *[f"difference.blocks.{i}" for i in range(config.drb_blocks)],
                "difference.aggregate",
                "intent_encoder",
                "refinement",
                "decoder",
            ]
            timer = PartTimer(model, names, sync)
            n = max(spec["min_iters"], min(len(times), 10))
            t0, c0, b0 = time.perf_counter(), _cpu_s(), _system_busy_s()
            for _ in range(n):
                model(original, edited, intent)
            sync()
            wall_bd = time.perf_counter() - t0
            timer.remove()
            breakdown = {k: v / n for k, v in timer.totals.items()}
            breakdown["(rest of forward)"] = wall_bd / n - sum(breakdown.values())
            breakdown_foreign = max(0.0, (_system_busy_s() - b0 - (_cpu_s() - c0)) / wall_bd)
    median = statistics.median(times)
    result = {
        "preset": spec["preset"],
        "size": s,
        "batch": b,
        "overrides": spec["overrides"],
        "pretrained": pretrained,
        "threads": torch.get_num_threads(),
        "iters": len(times),
        "median_s": median,
        "min_s": min(times),
        "mean_s": statistics.fmean(times),
        "pairs_per_s": b / median,
        "rss_after_build_mib": rss_build,
        "peak_rss_mib": _rss_mib(),
        "cpu_per_wall": cpu / wall,
        "foreign_cpu": foreign,
        "loadavg_1min_before": load_before,
        "breakdown_s": breakdown,
        "breakdown_foreign_cpu": breakdown_foreign,
    }
    if amp != "none":
        result["amp"] = amp
    if cuda:
        result.update(
            device=str(device),
            gpu=torch.cuda.get_device_name(device),
            cuda_after_build_mib=cuda_build_mib,
            cuda_peak_mib=torch.cuda.max_memory_allocated(device) / 2**20,
        )
    return result


def wait_for_idle(max_other: float, timeout: float, window: float = 2.0, windows: int = 3) -> bool:
    """Wait until other processes use < ``max_other`` cores for ``windows`` consecutive windows."""
    deadline, quiet = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        b0 = _system_busy_s()
        time.sleep(window)
        quiet = quiet + 1 if (_system_busy_s() - b0) / window < max_other else 0
        if quiet >= windows:
            return True
    return False


def _run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--_worker", json.dumps(spec)], capture_output=True, text=True)
    if proc.returncode != 0:
        return {
            **{k: spec[k] for k in ("preset", "size", "batch", "overrides")},
            "error": (proc.stderr.strip().splitlines() or ["worker failed"])[-1],
        }
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", action="append", help="preset (repeatable; default: offline@256 and paper@518)")
    ap.add_argument("--size", action="append", type=int, help="square input size (repeatable)")
    ap.add_argument("--batch", action="append", type=int, help="batch size in pairs (repeatable; default 1 and 8)")
    ap.add_argument("--iters", type=int, default=20, help="timed iterations per configuration (default 20)")
    ap.add_argument("--min-iters", type=int, default=3, help="timed iterations even past --max-seconds (default 3)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed warm-up iterations (default 3)")
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=60.0,
        help="stop timing a configuration after this long once --min-iters are done (default 60)",
    )
    ap.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch.get_num_threads())"
    )
    ap.add_argument(
        "--weights",
        choices=("auto", "pretrained", "random"),
        default="auto",
        help="auto: packaged MobileNetV2 weights when installed, else random (default)",
    )
    ap.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a model: key (dotted), e.g. --set decoder_stride=8",
    )
    ap.add_argument("--breakdown", action="store_true", help="also time each top-level part (forward hooks)")
    ap.add_argument("--device", default="cpu", help="torch device, e.g. cuda or cuda:1 (default cpu)")
    ap.add_argument(
        "--amp",
        choices=("none", *AMP_DTYPES),
        default="none",
        help="run the forward under torch.autocast with this dtype (default none)",
    )
    ap.add_argument(
        "--max-other-cpu",
        type=float,
        default=0.1,
        help="rerun a configuration when other processes used more cores than this while it was "
        "timed (default 0.1; shared machines)",
    )
    ap.add_argument(
        "--retries",
        type=int,
        default=0,
        help="reruns of a contended configuration, each after waiting for an idle machine (default 0)",
    )
    ap.add_argument("--idle-timeout", type=float, default=300.0, help="longest wait for an idle machine (s)")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON")
    ap.add_argument("--_worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args._worker:
        print(json.dumps(run_one(json.loads(args._worker))))
        return

    import torch
    from rich.console import Console
    from rich.table import Table

    from sigma.model.build import PRESETS

    try:
        device = torch.device(args.device)
    except RuntimeError as exc:
        ap.error(f"--device: {exc}")
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: torch sees no CUDA device")
    threads = args.threads or torch.get_num_threads()
    if args.preset or args.size:
        configs = list(
            itertools.product(
                args.preset or [p for p, _ in DEFAULT_CONFIGS], args.size or sorted({s for _, s in DEFAULT_CONFIGS})
            )
        )
    else:
        configs = list(DEFAULT_CONFIGS)
    for preset, _ in configs:
        if preset not in PRESETS:
            ap.error(f"unknown preset {preset!r}; known: {sorted(PRESETS)}")
    console = Console()
    results = []
    for (preset, size), batch in itertools.product(configs, args.batch or DEFAULT_BATCHES):
        spec = {
            "preset": preset,
            "size": size,
            "batch": batch,
            "threads": threads,
            "iters": args.iters,
            "min_iters": args.min_iters,
            "warmup": args.warmup,
            "max_seconds": args.max_seconds,
            "weights": args.weights,
            "overrides": args.overrides,
            "breakdown": args.breakdown,
            "device": args.device,
            "amp": args.amp,
        }
        r = None
        for attempt in range(args.retries + 1):
            if args.retries:
                with console.status("waiting for an idle machine ..."):
                    wait_for_idle(args.max_other_cpu, args.idle_timeout)
            with console.status(f"{preset} @ {size}² batch {batch} ..."):
                new = _run_worker(spec)
            if r is None or "error" in r or new.get("foreign_cpu", 9) < r.get("foreign_cpu", 9):
                r = new
            if "error" in r or r["foreign_cpu"] <= args.max_other_cpu:
                break
            console.log(
                f"[yellow]contended: other processes used {new['foreign_cpu']:.2f} cores while timing"
                + (" -- retrying" if attempt < args.retries else "")
            )
        r["attempts"] = attempt + 1
        results.append(r)
        console.log(
            f"{preset} @ {size}² batch {batch}: "
            + (f"{r['pairs_per_s']:.2f} pairs/s" if "error" not in r else f"[red]{r['error']}")
        )

    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}"
    cuda = device.type == "cuda"
    if cuda:
        machine += f", {next((r['gpu'] for r in results if 'gpu' in r), args.device)}"
    title = f"SIGMA forward throughput ({threads} threads; {machine})"
    if args.amp != "none":
        title += f"\nautocast {args.amp}"
    if args.overrides:
        title += f"\noverrides: {' '.join(args.overrides)}"
    title += (
        "\n(CPU/wall: this process's CPU seconds per wall second while timing; other CPU: cores busy with"
        " other processes meanwhile -- above ~0.1 the numbers are contended)"
    )
    table = Table(title=title)
    for col in (
        "preset",
        "input",
        "batch",
        "weights",
        "iters",
        "median s/batch",
        "pairs/s",
        "peak RSS MiB",
        *(["peak CUDA MiB"] if cuda else []),
        "CPU/wall",
        "other CPU",
    ):
        table.add_column(col, justify="left" if col in ("preset", "weights") else "right")
    for r in results:
        if "error" in r:
            table.add_row(
                r["preset"],
                f"{r['size']}²",
                str(r["batch"]),
                "-",
                "-",
                "-",
                f"error: {r['error']}",
                "-",
                *(["-"] if cuda else []),
                "-",
                "-",
            )
            continue
        table.add_row(
            r["preset"],
            f"{r['size']}²",
            str(r["batch"]),
            "pretrained" if r["pretrained"] else "random",
            str(r["iters"]),
            f"{r['median_s']:.4f}",
            f"{r['pairs_per_s']:.2f}",
            f"{r['peak_rss_mib']:.0f}",
            *([f"{r['cuda_peak_mib']:.0f}"] if cuda else []),
            f"{r['cpu_per_wall']:.2f}",
            f"{r['foreign_cpu']:.2f}",
        )
    console.print(table)
    if args.breakdown:
        parts = Table(title="Per-part time (ms per batch, forward hooks; separate iterations)")
        parts.add_column("config")
        parts.add_column("other CPU", justify="right")
        names = list(dict.fromkeys(k for r in results if r.get("breakdown_s") for k in r["breakdown_s"]))
        for name in names:
            parts.add_column(name, justify="right")
        for r in results:
            if r.get("breakdown_s"):
                parts.add_row(
                    f"{r['preset']}@{r['size']} b{r['batch']}",
                    f"{r['breakdown_foreign_cpu']:.2f}",
                    *[f"{1000 * r['breakdown_s'].get(n, 0):.1f}" for n in names],
                )
        console.print(parts)
    if args.json:
        with open(args.json, "w") as fh:
            extra = {"device": args.device} if cuda else {}
            if args.amp != "none":
                extra["amp"] = args.amp
            json.dump({"machine": machine, "threads": threads, **extra, "results": results}, fh, indent=2)
        console.log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
