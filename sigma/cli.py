"""``sigma``: the command line. Every command has ``--help``; configuration comes from
``params.yaml`` (``--params``) with single keys overridden by ``--set KEY=VALUE``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from sigma import __version__
from sigma.config import ConfigError, Params, load_params

STARTED = time.monotonic()  # a stage's wall time counts its imports too

app = typer.Typer(help="SIGMA: pixel masks of what a text-driven image edit changed.", no_args_is_help=True)
data_app = typer.Typer(help="Synthesise, bootstrap and validate edit-pair datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
train_app = typer.Typer(help="Training stages.", no_args_is_help=True)
app.add_typer(train_app, name="train")
downstream_app = typer.Typer(
    help="The downstream experiment: detectors trained on each label source's masks (docs/downstream.md).",
    no_args_is_help=True,
)
app.add_typer(downstream_app, name="downstream")
weights_app = typer.Typer(help="The pretrained models a profile needs: check they are there, fetch them.")
app.add_typer(weights_app, name="weights", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)  # paths in errors must stay copy-pasteable

ParamsOpt = Annotated[Path, typer.Option("--params", "-p", help="params.yaml to read.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override one key, e.g. --set data.edit.n_pairs=50 (repeatable)."),
]


EXIT_NO_PAIRS, EXIT_ALL_REJECTED = 3, 4  # sigma annotate: a run that finished with nothing annotated


@app.callback()
def _every_command() -> None:
    from sigma.tracking import time_this_stage

    time_this_stage(STARTED)


def _fail(message: object, code: int = 1) -> typer.Exit:
    """Print an error (as plain text: messages hold brackets that rich would read as markup)."""
    console.print(f"error: {message}", style="red", markup=False)
    return typer.Exit(code)


def _params(path: Path, overrides: list[str] | None) -> Params:
    try:
        return load_params(path, overrides)
    except ConfigError as exc:
        raise _fail(exc, 2) from None


def _section(path: Path, overrides: list[str] | None, name: str):
    """One params section; outside a project (no params.yaml, no overrides) its defaults."""
    if path.exists() or overrides:
        return getattr(_params(path, overrides), name)
    return Params.model_fields[name].default


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def pipeline(ctx: typer.Context) -> None:
    """Run a command (default: dvc repro) as one MLflow pipeline run that the stage runs nest under,
    e.g. `sigma pipeline -- dvc repro stage2`."""
    from sigma.tracking import run_pipeline

    raise typer.Exit(run_pipeline(list(ctx.args) or ["dvc", "repro"]))


@app.command()
def remote() -> None:
    """Make $SIGMA_STORAGE (s3://BUCKET or s3://BUCKET/PREFIX, endpoint in AWS_ENDPOINT_URL) this
    checkout's default DVC remote, in .dvc/config.local; without it, the committed remote of .dvc/config."""
    from sigma.data.remote import ENV, REMOTE_NAME, configure_dvc_remote
    from sigma.data.storage import StorageError

    try:
        url = configure_dvc_remote()
    except StorageError as exc:
        raise _fail(exc, 2) from None
    if url is None:
        console.print(f"{ENV} is not set: DVC uses the remote of .dvc/config")
    else:
        console.print(f"DVC default remote: {REMOTE_NAME} = {url} (.dvc/config.local)")


@app.command()
def version() -> None:
    """Print the installed SIGMA version."""
    typer.echo(__version__)


@app.command()
def parse(
    instruction: Annotated[str, typer.Argument(help='The edit instruction, e.g. "remove the cat".')],
    parser: Annotated[str | None, typer.Option(help="Parser name (rules, llm); default: parse.name.")] = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
) -> None:
    """Parse an instruction and print it as JSON: its "edits" (one per edit it asks for), the first
    edit's "original"/"edited"/"action", the "confidence", the rule "patterns" that matched, and the
    "prior" the annotator would use ("instruction", or "uniform: <why>" below parse.min_confidence)."""
    from sigma.model.parsing import build_parser

    overrides = list(set_ or []) + ([f"parse.name={parser}"] if parser else [])
    try:
        section = _section(params, overrides, "parse")
        result = build_parser(section).parse(instruction)
    except (KeyError, ValueError, OSError) as exc:
        raise _fail(exc, 2) from None
    reason = result.uniform_reason(section.min_confidence)
    typer.echo(json.dumps(result.model_dump() | {"prior": "instruction" if reason is None else f"uniform: {reason}"}))


@data_app.command("bootstrap")
def data_bootstrap(
    out: Annotated[Path, typer.Option(help="Folder to write the built-in COCO dataset into.")] = Path(
        "data/raw/builtin"
    ),
) -> None:
    """Write the built-in photos + instance masks (deterministic) as a COCO dataset.

    Used by `make run` when `dvc pull` cannot reach the remote: the result matches data.dvc.
    """
    from sigma.data.builtin import iter_builtin, write_coco

    path = write_coco(iter_builtin(), out)
    console.print(f"wrote built-in dataset: {path}")


@data_app.command("synth")
def data_synth(
    kind: Annotated[
        str,
        typer.Argument(
            help="inpaint (Stage I), edit (Stage II), calib (all-zero masks), dev (the real-photo dev benchmark), "
            "downstream (the downstream detectors' corpus) or dev_large (the large-photo dev benchmark)."
        ),
    ],
    out: Annotated[Path | None, typer.Option(help="Output folder; default data/synth/KIND.")] = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    track: Annotated[bool, typer.Option(help="Log params and the summary to MLflow (MLFLOW_TRACKING_URI).")] = True,
) -> None:
    """Synthesise (original, edited, instruction, mask) pairs from the configured photo sources."""
    from sigma.data.stages import synth_stage
    from sigma.data.synth import KINDS

    if kind not in KINDS:
        raise _fail(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}", 2)
    try:
        summary = synth_stage(kind, _params(params, set_).data, out, track=track)
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(exc) from None
    console.print_json(json.dumps(summary))


@data_app.command("validate")
def data_validate(
    datasets: Annotated[list[str], typer.Argument(help="Dataset folders or manifest.jsonl files (local or s3://).")],
    report: Annotated[Path | None, typer.Option(help="Write a JSON report (DVC metrics) here.")] = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
) -> None:
    """Run the edit-pair expectation suite; exit 1 naming the bad rows if any check fails."""
    from sigma.data.stages import validate_stage

    ok, results = validate_stage(datasets, _section(params, set_, "validate_"), report)
    for dataset, result in results.items():
        if isinstance(result, str):
            console.print(f"{dataset}: {result}", style="red", markup=False)
        else:
            console.print(result.format(), style=None if result.success else "red", markup=False)
    if not ok:
        raise typer.Exit(1)


@train_app.command("grounder")
def train_grounder(
    out: Annotated[Path | None, typer.Option(help="Head weights (.safetensors); default train_grounder.out.")] = None,
    metrics: Annotated[Path | None, typer.Option(help="Write train/held-out mIoU as JSON (DVC metrics).")] = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    track: Annotated[bool, typer.Option(help="Log params and metrics to MLflow (MLFLOW_TRACKING_URI).")] = True,
) -> None:
    """Train the learned grounder (text-conditioned concept masks) on the COCO-format sources."""
    from sigma.train.grounder import train_grounder_stage

    try:
        summary = train_grounder_stage(_params(params, set_), out, metrics, track=track)
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(exc) from None
    console.print_json(json.dumps(summary))


ResumeOpt = Annotated[bool, typer.Option(help="Continue the interrupted run from its saved state (OUT/state).")]
MetricsOpt = Annotated[Path | None, typer.Option(help="Write the stage's metrics as JSON (DVC metrics).")]
TrackOpt = Annotated[bool, typer.Option(help="Log params, metrics and artifacts to MLflow (MLFLOW_TRACKING_URI).")]


def _run_stage(fn, *args, **kwargs) -> dict:
    try:
        summary = fn(*args, **kwargs)
    except (OSError, ValueError) as exc:
        raise _fail(exc) from None
    except KeyError as exc:  # unknown registry names: the message lists the known ones
        raise _fail(exc.args[0], 2) from None
    console.print_json(json.dumps(summary))
    return summary


@train_app.command("vae")
def train_vae(
    metrics: MetricsOpt = None, params: ParamsOpt = Path("params.yaml"), set_: SetOpt = None, track: TrackOpt = True
) -> None:
    """Fit the offline VAE of the Stage II round trip (or save vae.pretrained) into vae.out."""
    from sigma.train.vae import train_vae_stage

    _run_stage(train_vae_stage, _params(params, set_), track=track, metrics=metrics)


@train_app.command("stage1")
def train_stage1(
    resume: ResumeOpt = False,
    metrics: MetricsOpt = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    track: TrackOpt = True,
) -> None:
    """Stage I: supervised training on the inpainting pairs (BCE + Dice)."""
    from sigma.train.stage1 import train_stage1 as run

    _run_stage(run, _params(params, set_), resume=resume, track=track, metrics=metrics)


@train_app.command("cd")
def train_cd(
    resume: ResumeOpt = False,
    metrics: MetricsOpt = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    track: TrackOpt = True,
) -> None:
    """The change-detection baseline (Siamese, FC-Siam-diff style): trained like Stage I on its data
    and budget into change_detection.out (method siamese_cd in sigma evaluate)."""
    from sigma.train.cd import train_change_detection as run

    _run_stage(run, _params(params, set_), resume=resume, track=track, metrics=metrics)


@train_app.command("stage2")
def train_stage2(
    resume: ResumeOpt = False,
    metrics: MetricsOpt = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    track: TrackOpt = True,
    register: Annotated[str, typer.Option(help="Registered model name for the result.")] = "sigma-annotator",
) -> None:
    """Stage II: VAE calibration, EMA pseudo-labels and disentanglement on unlabeled edits."""
    from sigma.train.stage2 import train_stage2 as run

    _run_stage(run, _params(params, set_), resume=resume, track=track, metrics=metrics, register=register)


@train_app.command("ablation")
def train_ablation(
    names: Annotated[list[str] | None, typer.Argument(help="Variant names; default: all with model overrides.")] = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    track: TrackOpt = True,
) -> None:
    """Train the ablation variants (ablation.variants with model overrides) like Stage I."""
    from sigma.train.ablation import train_ablation as run

    _run_stage(run, _params(params, set_), names, track=track)


def _registry_uri(model: str | None) -> None:
    """Point MLflow at the project's registry (MLFLOW_TRACKING_URI or the SQLite default) for models:/ URIs."""
    if model and ":/" in model:
        import mlflow

        from sigma.tracking import tracking_uri

        mlflow.set_tracking_uri(tracking_uri())


def _benchmark_spec(text: str):
    """A name from evaluate.benchmarks, LOADER:PATH (e.g. magicbrush:/data/MagicBrush) or a pair-format path."""
    from sigma.config import BenchmarkSpec
    from sigma.eval.benchmarks import list_benchmarks

    loader, sep, path = text.partition(":")
    if sep and loader in list_benchmarks():
        return BenchmarkSpec(name=loader, loader=loader, path=path)
    return BenchmarkSpec(name=Path(text.rstrip("/")).name or text, loader="pairs", path=text)


@app.command()
def evaluate(
    benchmark: Annotated[
        list[str] | None,
        typer.Argument(
            help="evaluate.benchmarks names, LOADER:PATH (loaders: pairs, cocoglide, autosplice, magicbrush, deal300k, "
            "opensdi) or a pair-format folder; default: every configured benchmark."
        ),
    ] = None,
    method: Annotated[
        list[str] | None, typer.Option(help="Method name (repeatable); default: evaluate.methods.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="Checkpoint or MLflow URI (models:/sigma-annotator@champion) "
            "for the SIGMA methods; default: evaluate.model."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Metrics JSON ({benchmark: {method: metrics}}).")] = Path(
        "metrics/evaluate.json"
    ),
    gallery: Annotated[
        Path | None, typer.Option(help="Write the HTML gallery of the sigma method's worst cases.")
    ] = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    track: TrackOpt = True,
) -> None:
    """Score methods (SIGMA checkpoints and the PixDiff baselines) on benchmarks through one loop."""
    from sigma.eval.methods import list_methods
    from sigma.eval.stages import evaluate_stage

    cfg = _params(params, set_)
    _registry_uri(model)
    names = [b.name for b in cfg.evaluate.benchmarks]
    extra = [_benchmark_spec(b) for b in benchmark or [] if b not in names]
    if extra:
        cfg = cfg.model_copy(
            update={"evaluate": cfg.evaluate.model_copy(update={"benchmarks": list(cfg.evaluate.benchmarks) + extra})}
        )
    unknown = [m for m in method or [] if m.partition("@")[0] not in list_methods()]
    if unknown:
        raise _fail(f"unknown method(s) {unknown}; known: {', '.join(list_methods())}", 2)
    chosen = [b for b in (benchmark or []) if b in names] + [s.name for s in extra]
    _run_stage(
        evaluate_stage, cfg, out, methods=method, model=model, benchmarks=chosen or None, gallery=gallery, track=track
    )


@app.command()
def robustness(
    out: Annotated[Path, typer.Option(help="Points JSON (DVC metrics/plots).")] = Path("metrics/robustness.json"),
    model: Annotated[str | None, typer.Option(help="Checkpoint or MLflow URI; default: evaluate.model.")] = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    track: TrackOpt = True,
) -> None:
    """F1 under JPEG, Gaussian noise and blur of the edited image (evaluate.robustness)."""
    from sigma.eval.stages import robustness_stage

    _registry_uri(model)
    _run_stage(robustness_stage, _params(params, set_), out, model=model, track=track)


@app.command()
def ablation(
    out: Annotated[Path, typer.Option(help="Metrics JSON ({variant: {benchmark: metrics}}).")] = Path(
        "metrics/ablation.json"
    ),
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    track: TrackOpt = True,
) -> None:
    """Evaluate every ablation variant's checkpoint on ablation.benchmarks."""
    from sigma.eval.stages import ablation_stage

    _run_stage(ablation_stage, _params(params, set_), out, track=track)


@app.command()
def tables(
    metrics_dir: Annotated[Path, typer.Option(help="Where evaluate/ablation/robustness JSON are.")] = Path("metrics"),
    reports: Annotated[Path, typer.Option(help="Output folder.")] = Path("reports"),
    only: Annotated[
        list[str] | None,
        typer.Option(help="Write only this table (repeatable): table1, ablation, robustness; default: all."),
    ] = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
) -> None:
    """Write reports/table1 (with its per-benchmark breakdown), ablation (.md/.csv/.tex) and
    robustness.png from the metrics that exist."""
    from sigma.eval.tables import tables_stage

    _run_stage(tables_stage, _params(params, set_), metrics_dir, reports, only)


@app.command()
def promote(
    version: Annotated[
        str | None, typer.Option(help="Model version; default: the one holding --checkpoint, else the newest.")
    ] = None,
    checkpoint: Annotated[
        Path | None, typer.Option(help="Promote the registered version that holds this checkpoint's weights.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the decision as JSON (DVC metrics; version numbers stay in the MLflow registry)."),
    ] = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
) -> None:
    """Move the champion alias to the candidate version only if its average F1 wins by promote.margin."""
    from sigma.data.storage import write_json_atomic
    from sigma.eval.promote import promote as run
    from sigma.eval.promote import promotion_metrics

    try:
        decision = run(_params(params, set_), version, str(checkpoint) if checkpoint else None)
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(exc) from None
    if out:
        write_json_atomic(str(out), promotion_metrics(decision))
    console.print_json(json.dumps(decision))


@app.command()
def annotate(
    corpus: Annotated[
        str | None,
        typer.Argument(
            help="Pair folder / manifest (local or s3://) or LAYOUT:ROOT "
            "(e.g. anyedit:/data/AnyEdit); default: annotate.corpus."
        ),
    ] = None,
    out: Annotated[str | None, typer.Argument(help="Output folder or s3:// prefix; default: annotate.out.")] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="models:/NAME@ALIAS, models:/NAME/VERSION or a checkpoint; or an evaluation method as "
            "method:NAME[@MODEL] (e.g. method:pixdiff_morph); "
            "default: annotate.model (models:/sigma-annotator@champion)."
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted run in OUT: committed shards are kept, the rest redone.")
    ] = False,
    metrics: Annotated[
        Path | None,
        typer.Option(
            help="Write the summary (and, where the corpus has masks, F1/IoU against them) as JSON (DVC metrics)."
        ),
    ] = None,
    runner: Annotated[
        Literal["local", "ray"],
        typer.Option(
            help="Where shards run: local (this process) or ray (a Prefect flow fanning them out over Ray; "
            "needs ray and prefect-ray, the project's ray extra)."
        ),
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster for --runner ray (e.g. ray://HEAD:10001); default: a temporary local one."),
    ] = None,
    ray_listen: Annotated[
        Literal["loopback", "network"],
        typer.Option(
            help="Where the temporary local Ray cluster listens: loopback (this machine only) or network "
            "(the host's address: other machines can reach it; firewall it)."
        ),
    ] = "loopback",
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    track: TrackOpt = True,
) -> None:
    """Annotate a corpus: masks/, masks_side/, annotations.jsonl, imdlbenco[.<split>].json, rejects.jsonl, summary.

    Exit codes: 0 at least one pair annotated (bad pairs are in OUT/rejects.jsonl); 1 the run stopped
    (committed shards are kept: fix the cause, then --resume); 2 bad usage or params; 3 the corpus holds
    no pairs; 4 every pair was rejected. With 3 and 4 the outputs and --metrics are still written.
    """
    ray = (ray_address, ray_listen)
    _annotate_run(_params(params, set_), corpus, out, model, resume, metrics, runner, ray, params, set_, track)


def _annotate_run(
    cfg: Params,
    corpus: str | None,
    out: str | None,
    model: str | None,
    resume: bool,
    metrics: Path | None,
    runner: str,
    ray: tuple[str | None, Literal["loopback", "network"]],
    params: Path,
    set_: list[str] | None,
    track: bool,
) -> None:
    """``sigma annotate`` and ``sigma detect``: one run, its metrics, and the exit codes."""
    from sigma.annotate.run import annotate_corpus, annotate_metrics
    from sigma.annotate.truth import score_against_truth
    from sigma.data.storage import join, write_json_atomic

    def run() -> dict:
        if runner == "ray":
            from flows.annotate import annotate_corpus_flow

            summary = annotate_corpus_flow(
                corpus,
                out,
                model,
                resume=resume,
                runner="ray",
                ray_address=ray[0],
                ray_listen=ray[1],
                params_path=str(params),
                overrides=list(set_ or []),
                track=track,
            )
        else:
            summary = annotate_corpus(cfg, corpus, out, model, resume=resume, track=track)
        if metrics:
            truth = score_against_truth(out or cfg.annotate.out, corpus or cfg.annotate.corpus)
            write_json_atomic(
                str(metrics), annotate_metrics(summary) | ({"against_corpus_masks": truth} if truth else {})
            )
        return summary

    summary = _run_stage(run)
    if not summary["pairs"]:
        raise _fail(f"{corpus or cfg.annotate.corpus} holds no pairs: nothing was annotated", EXIT_NO_PAIRS)
    if not summary["annotated"]:
        reasons = ", ".join(f"{k} {v}" for k, v in summary["rejects_by_reason"].items())
        where = join(out or cfg.annotate.out, "rejects.jsonl")
        raise _fail(f"every pair was rejected ({reasons}): see {where}", EXIT_ALL_REJECTED)


@app.command()
def detect(
    corpus: Annotated[
        str, typer.Argument(help="Pair folder / manifest (local or s3://) or LAYOUT:ROOT (e.g. magicbrush:/data/MB).")
    ],
    out: Annotated[str, typer.Argument(help="Output folder or s3:// prefix (masks/<id>.png at each image's size).")],
    detector: Annotated[
        Path, typer.Option(help="A detector checkpoint (models/downstream/<detector>/<source>/seed<k>.safetensors).")
    ],
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run in OUT.")] = False,
    metrics: Annotated[
        Path | None, typer.Option(help="Write the summary (and F1/IoU against the corpus's masks, if any) as JSON.")
    ] = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    track: TrackOpt = True,
) -> None:
    """Run a trained IML detector on a corpus, from each pair's edited image alone: the same OUT layout,
    rejects and exit codes as `sigma annotate` (0 something annotated; 1 stopped, --resume; 2 bad usage;
    3 no pairs; 4 every pair rejected)."""
    from sigma.model.detectors.checkpoint import DetectorCheckpointError, read_header

    try:
        read_header(detector)
    except DetectorCheckpointError as exc:
        raise _fail(exc, 2) from None
    model = f"method:detector@{detector}"
    _annotate_run(
        _params(params, set_), corpus, out, model, resume, metrics, "local", (None, "loopback"), params, set_, track
    )


@downstream_app.command("labels")
def downstream_labels(
    metrics: MetricsOpt = None, params: ParamsOpt = Path("params.yaml"), set_: SetOpt = None, track: TrackOpt = True
) -> None:
    """Label downstream.corpus with every source of downstream.sources (sigma annotate, or its own masks
    for truth) into downstream.labels/<source>: the IMDL-BenCo files the detectors train from."""
    from sigma.downstream.labels import labels_stage

    _run_stage(labels_stage, _params(params, set_), metrics, track=track)


@downstream_app.command("train")
def downstream_train(
    metrics: MetricsOpt = None, params: ParamsOpt = Path("params.yaml"), set_: SetOpt = None, track: TrackOpt = True
) -> None:
    """Train every detector on every label source (downstream.detectors x sources x seeds) into
    downstream.out/<detector>/<source>/seed<k>.safetensors."""
    from sigma.downstream.train import train_stage

    _run_stage(lambda: {"cells": train_stage(_params(params, set_), metrics, track=track)})


@downstream_app.command("evaluate")
def downstream_evaluate(
    benchmark: Annotated[
        list[str] | None,
        typer.Argument(help="More benchmarks: LOADER:PATH or a pair-format folder (downstream.benchmarks always run)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Metrics JSON to write.")] = Path("metrics/downstream.json"),
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    track: TrackOpt = True,
) -> None:
    """Score every trained detector (edited image only) on downstream.benchmarks and BENCHMARK...:
    F1/IoU over manipulated images, false positives on authentic ones, per drift level."""
    from sigma.downstream.evaluate import evaluate_stage

    extra = [_benchmark_spec(b) for b in benchmark or []]
    _run_stage(lambda: {"benchmarks": evaluate_stage(_params(params, set_), out, extra, track=track)["benchmarks"]})


@downstream_app.command("report")
def downstream_report(
    metrics: Annotated[Path, typer.Option(help="sigma downstream evaluate's output.")] = Path(
        "metrics/downstream.json"
    ),
    labels: Annotated[Path, typer.Option(help="sigma downstream labels' metrics.")] = Path(
        "metrics/downstream_labels.json"
    ),
    reports: Annotated[Path, typer.Option(help="Folder for downstream.{md,csv,tex,png}.")] = Path("reports"),
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
) -> None:
    """The downstream table: reports/downstream.{md,csv,tex}, downstream.png and downstream_f1.csv (DVC plots)."""
    from sigma.downstream.report import report_stage

    _run_stage(lambda: {"written": [str(p) for p in report_stage(_params(params, set_), metrics, labels, reports)]})


ProfileOpt = Annotated[
    str, typer.Option(help="offline (params.yaml as it is) or a profile laid over it: paper (sigma/profiles/).")
]


@weights_app.command("check")
def weights_check(
    profile: ProfileOpt = "offline",
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
) -> None:
    """List every model the profile loads (hub id, revision, files, size) and whether it is there.

    Exit code 1 when something is missing; each missing row says what to run.
    """
    from rich.table import Table

    from sigma.weights import check, profile_params

    try:
        rows = check(profile_params(profile, params, set_))
    except (ValueError, ConfigError) as exc:
        raise _fail(exc, 2) from None
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        table = Table(title=f"weights for the {profile} profile")
        for column in ("used by", "source", "kind", "size", "status"):
            table.add_column(column, overflow="fold")
        for r in rows:
            size = f"≈{r['size_mb']} MB" if r["size_mb"] else "?"
            status = "present" if r["present"] else f"missing {len(r['missing'])} file(s)"
            table.add_row(r["role"], r["source"], r["kind"], size, status, style=None if r["present"] else "red")
        out = Console(soft_wrap=True)
        out.print(table)
        for r in rows:
            if not r["present"]:  # one copy-pasteable line each
                out.print(f"{r['source']}: missing {', '.join(r['missing'])}: {r['fix']}", markup=False)
    if not all(r["present"] for r in rows):
        raise typer.Exit(1)


@weights_app.command("fetch")
def weights_fetch(profile: ProfileOpt = "paper", params: ParamsOpt = Path("params.yaml"), set_: SetOpt = None) -> None:
    """Download the profile's missing hub models into the Hugging Face cache (needs a network; unset HF_HUB_OFFLINE)."""
    from sigma.weights import fetch, profile_params

    try:
        fetched = fetch(profile_params(profile, params, set_))
    except (ValueError, ConfigError, RuntimeError) as exc:
        raise _fail(exc, 2) from None
    typer.echo(json.dumps({"fetched": fetched}))


RootOpt = Annotated[
    Path, typer.Option(help="Folder the corpus paths in the records are relative to: where `sigma annotate` ran.")
]


@app.command()
def review(
    out: Annotated[str, typer.Argument(help="An annotation run: its OUT folder or s3:// prefix.")],
    host: Annotated[str, typer.Option(help="Address to listen on (loopback: only this machine).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    root: RootOpt = Path("."),
    reviewer: Annotated[str | None, typer.Option(help="Your name, recorded with each decision.")] = None,
) -> None:
    """Look at the masks of an annotation run, accept, reject or flag them (OUT/review.jsonl); see docs/review.md."""
    import uvicorn

    from sigma.data.storage import StorageError
    from sigma.progress import LoggedProgress
    from sigma.review.app import create_app
    from sigma.review.index import AnnotationIndex

    try:
        with LoggedProgress(transient=True, console=console) as bar:
            job = bar.add_task("indexing annotations.jsonl", total=None)
            AnnotationIndex(out, progress=lambda n: bar.advance(job, n))  # cached: create_app reopens it
        app_ = create_app(out, str(root), reviewer)
    except (StorageError, ValueError) as exc:
        raise _fail(exc) from None
    console.print(f"reviewing {out} at http://{host}:{port}/ (Ctrl-C to stop)", markup=False)
    uvicorn.run(app_, host=host, port=port, log_level="warning")


@app.command("export")
def export_(
    out: Annotated[str, typer.Argument(help="An annotation run: its OUT folder or s3:// prefix.")],
    accepted_only: Annotated[
        bool, typer.Option("--accepted-only", help="Keep only the pairs a reviewer accepted.")
    ] = False,
    exclude_rejected: Annotated[
        bool, typer.Option("--exclude-rejected", help="Keep every pair but the rejected ones (the default).")
    ] = False,
    dest: Annotated[str | None, typer.Option(help="Where to write; default OUT/reviewed.")] = None,
    root: RootOpt = Path("."),
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
) -> None:
    """Write the IML-ready files (IMDL-BenCo JSON per split, a pair manifest) honouring the review decisions."""
    from sigma.review.export import export_reviewed

    if accepted_only and exclude_rejected:
        raise _fail("choose one of --accepted-only and --exclude-rejected", 2)
    cfg = _section(params, set_, "annotate")
    mode = "accepted-only" if accepted_only else "exclude-rejected"
    _run_stage(export_reviewed, out, cfg, mode, dest, str(root))


if __name__ == "__main__":
    app()
