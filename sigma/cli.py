"""``sigma``: the command line. Every command has ``--help``; configuration comes from
``params.yaml`` (``--params``) with single keys overridden by ``--set KEY=VALUE``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from sigma import __version__
from sigma.config import ConfigError, Params, load_params

app = typer.Typer(help="SIGMA: pixel masks of what a text-driven image edit changed.", no_args_is_help=True)
data_app = typer.Typer(help="Synthesise, bootstrap and validate edit-pair datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console(stderr=True, soft_wrap=True)  # paths in errors must stay copy-pasteable

ParamsOpt = Annotated[Path, typer.Option("--params", "-p", help="params.yaml to read.")]
SetOpt = Annotated[
    Optional[list[str]], typer.Option("--set", "-s", help="Override one key, e.g. --set data.edit.n_pairs=50 (repeatable).")
]


def _params(path: Path, overrides: list[str] | None) -> Params:
    try:
        return load_params(path, overrides)
    except ConfigError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


def _section(path: Path, overrides: list[str] | None, name: str):
    """One params section; outside a project (no params.yaml, no overrides) its defaults."""
    if path.exists() or overrides:
        return getattr(_params(path, overrides), name)
    return Params.model_fields[name].default


@app.command()
def version() -> None:
    """Print the installed SIGMA version."""
    typer.echo(__version__)


@app.command()
def parse(
    instruction: Annotated[str, typer.Argument(help="The edit instruction, e.g. \"remove the cat\".")],
    parser: Annotated[Optional[str], typer.Option(help="Parser name (rules, llm); default: parse.name.")] = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
) -> None:
    """Parse an instruction into {"original", "edited", "action"} and print it as JSON."""
    from sigma.model.parsing import build_parser

    overrides = list(set_ or []) + ([f"parse.name={parser}"] if parser else [])
    try:
        result = build_parser(_section(params, overrides, "parse")).parse(instruction)
    except (KeyError, ValueError, OSError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    typer.echo(json.dumps(result.model_dump()))


@data_app.command("bootstrap")
def data_bootstrap(
    out: Annotated[Path, typer.Option(help="Folder to write the built-in COCO dataset into.")] = Path("data/raw/builtin"),
) -> None:
    """Write the built-in photos + instance masks (deterministic) as a COCO dataset.

    Used by `make run` when `dvc pull` cannot reach the remote: the result matches data.dvc.
    """
    from sigma.data.builtin import iter_builtin, write_coco

    path = write_coco(iter_builtin(), out)
    console.print(f"wrote built-in dataset: {path}")


@data_app.command("synth")
def data_synth(
    kind: Annotated[str, typer.Argument(help="inpaint (Stage I), edit (Stage II) or calib (all-zero masks).")],
    out: Annotated[Optional[Path], typer.Option(help="Output folder; default data/synth/KIND.")] = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
    track: Annotated[bool, typer.Option(help="Log params and the summary to MLflow (MLFLOW_TRACKING_URI).")] = True,
) -> None:
    """Synthesise (original, edited, instruction, mask) pairs from the configured photo sources."""
    from sigma.data.photos import load_photos
    from sigma.data.synth import KINDS, synthesise

    if kind not in KINDS:
        console.print(f"[red]error:[/] unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
        raise typer.Exit(2)
    cfg = _params(params, set_).data
    try:
        photos = load_photos(cfg.sources, cfg.max_side)
        summary = synthesise(kind, photos, cfg, out or Path("data/synth") / kind)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    console.print_json(json.dumps(summary))
    if track:
        from sigma.tracking import log_summary

        section = cfg.model_dump(mode="json", include={"sources", "max_side", "split", kind})
        log_summary(f"synth_{kind}", section, summary, stage=f"synth_{kind}")


@data_app.command("validate")
def data_validate(
    datasets: Annotated[list[str], typer.Argument(help="Dataset folders or manifest.jsonl files (local or s3://).")],
    report: Annotated[Optional[Path], typer.Option(help="Write a JSON report (DVC metrics) here.")] = None,
    params: ParamsOpt = Path("params.yaml"),
    set_: SetOpt = None,
) -> None:
    """Run the edit-pair expectation suite; exit 1 naming the bad rows if any check fails."""
    from sigma.data.pairs import ManifestError
    from sigma.data.storage import StorageError
    from sigma.data.validate import validate_dataset

    cfg = _section(params, set_, "validate_")
    results = {}
    ok = True
    for dataset in datasets:
        try:
            rep = validate_dataset(dataset, cfg)
        except (ManifestError, StorageError) as exc:
            console.print(f"[red]{dataset}: cannot read manifest:[/] {exc}")
            ok = False
            results[dataset] = {"success": False, "error": str(exc)}
            continue
        console.print(rep.format(), style=None if rep.success else "red", markup=False)
        ok &= rep.success
        results[dataset] = {"success": rep.success, "n_pairs": rep.n_pairs, "failures": [f.__dict__ for f in rep.failures]}
    if report:
        from sigma.data.storage import write_bytes_atomic

        summary = {"success": ok, "n_pairs": sum(r.get("n_pairs", 0) for r in results.values()), "datasets": results}
        write_bytes_atomic(str(report), (json.dumps(summary, indent=2) + "\n").encode())
    if not ok:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
