"""``sigma annotate``: a corpus streamed into shards, each annotated and committed exactly once,
then merged (``sigma/annotate/finalize.py``). ``--resume`` skips committed shards and redoes the rest.

Shards run in this process by default; ``flows/annotate.py`` fans the same :func:`run_shard` out
over a Ray cluster through Prefect's Ray task runner.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from itertools import chain, islice
from typing import Any, cast

from rich.progress import MofNCompleteColumn, TextColumn, TimeElapsedColumn

from sigma.annotate.corpora import open_corpus
from sigma.annotate.dedup import first_occurrences
from sigma.annotate.finalize import finalize
from sigma.annotate.layout import RUN_FILE, OutputLayout
from sigma.annotate.shard import ShardTask, annotate_shard
from sigma.config import Params
from sigma.data import storage
from sigma.model.sigma import SigmaAnnotator
from sigma.progress import LoggedProgress

log = logging.getLogger(__name__)


def plan_shards(corpus: str, shard_size: int) -> Iterator[ShardTask]:
    """Consecutive shards of ``shard_size`` pairs, streamed: only one shard's records are in memory.
    A repeated id is rejected where it occurs (:mod:`sigma.annotate.dedup`)."""
    pairs = first_occurrences(open_corpus(corpus))
    index = 0
    while chunk := list(islice(pairs, shard_size)):
        yield ShardTask(index, chunk)
        index += 1


def pin_model(uri: str) -> dict[str, Any]:
    """``{"uri", "load"}``: what to load, with a registry alias resolved to its version (a resumed run
    must use the same weights even if ``@champion`` moved). :func:`annotate_corpus` adds ``version``,
    the loaded weights' digest (:func:`~sigma.model.checkpoint.weights_digest`)."""
    if uri.startswith("models:/") and "@" in uri:
        import mlflow

        from sigma.tracking import tracking_uri

        mlflow.set_tracking_uri(tracking_uri())
        name, alias = uri[len("models:/") :].split("@", 1)
        try:
            version = mlflow.MlflowClient().get_model_version_by_alias(name, alias).version
        except mlflow.exceptions.MlflowException as exc:
            raise FileNotFoundError(
                f"cannot resolve {uri}: {exc.message} (run `sigma promote`, or pass "
                "--model with a checkpoint path or models:/NAME/VERSION)"
            ) from None
        return {"uri": uri, "load": f"models:/{name}/{version}"}
    return {"uri": uri, "load": uri}


def pin_weights(pinned: dict[str, Any], annotator: SigmaAnnotator) -> dict[str, Any]:
    from sigma.annotate.methods import MethodAnnotator
    from sigma.model.checkpoint import weights_digest

    if isinstance(annotator, MethodAnnotator):
        return pinned | {"version": annotator.digest()}
    return pinned | {"version": weights_digest(annotator)}


def keep_run_model(run: dict[str, Any], pinned: dict[str, Any]) -> dict[str, Any]:
    """On ``--resume``, the registry version holding the weights the run started with even if its alias
    moved since, so one OUT is annotated by one model (a scheduled run over a growing corpus keeps its
    model; annotate into a new OUT to use the new one)."""
    alias = pinned["uri"].startswith("models:/") and "@" in pinned["uri"]
    if not alias or run.get("model_uri") != pinned["uri"] or run.get("model_version") == pinned["version"]:
        return pinned
    from sigma.model.pyfunc import version_with_digest

    name = pinned["uri"][len("models:/") :].split("@", 1)[0]
    version = version_with_digest(name, run["model_version"])
    if version is None:  # check_resumable then refuses the run, naming both models
        return pinned
    log.warning(
        "%s now holds weights %s; this resumed run stays on version %s (%s), the one it started with "
        "(annotate into a new OUT to use the new weights)",
        pinned["uri"],
        pinned["version"],
        version,
        run["model_version"],
    )
    return {"uri": pinned["uri"], "version": run["model_version"], "load": f"models:/{name}/{version}"}


def run_info(corpus: str, model: dict[str, Any], params: Params, threshold: float) -> dict[str, Any]:
    """What determines the outputs' bytes; ``--resume`` refuses a run that differs."""
    cfg = params.annotate
    return {
        "corpus": corpus,
        "model_uri": model["uri"],
        "model_version": model["version"],
        "shard_size": cfg.shard_size,
        "batch_size": cfg.batch_size,
        "threshold": threshold,
        "max_pixels": params.validate_.max_pixels,
        "max_instruction_chars": params.validate_.max_instruction_chars,
    }


def check_resumable(layout: OutputLayout, info: dict[str, Any], resume: bool) -> None:
    existing = layout.read_run()
    if existing is None:
        if layout.has_outputs():
            raise ValueError(f"{layout.root} is not empty and holds no {RUN_FILE}: choose an empty or new OUT")
        return
    if not resume:
        raise ValueError(f"{layout.root} already holds a run: pass --resume to continue it, or choose a new OUT")
    changed = {k: (existing.get(k), v) for k, v in info.items() if existing.get(k) != v}
    if changed:
        raise ValueError(
            f"--resume: {layout.root} was written with other settings {changed}: "
            "use the same corpus, model and annotate params, or a new OUT"
        )
    layout.clear_partial_writes()


def load_for_run(model: dict[str, Any]) -> SigmaAnnotator:
    """The annotator ``model["load"]`` names: a SIGMA checkpoint or MLflow URI, or an evaluation method
    (``method:NAME[@MODEL]``, :mod:`sigma.annotate.methods`)."""
    from sigma.annotate.methods import MethodAnnotator, is_method

    if is_method(model["load"]):
        return cast(SigmaAnnotator, MethodAnnotator(model["load"]).eval())
    from sigma.model.pyfunc import load_annotator  # imports mlflow: only when a model is loaded

    annotator = load_annotator(model["load"])
    annotator.eval()
    return annotator


def committed_marker(layout: OutputLayout, task: ShardTask) -> dict[str, Any] | None:
    """The marker of shard ``task.index`` when it committed exactly ``task.pairs``; None when the shard
    must run: never committed, or committed partial (the corpus's last shard) and grown since."""
    marker = layout.is_done(task.index)
    if marker is None or marker["digest"] == task.digest:
        return marker
    n_done = marker["pairs"]
    if n_done < len(task.pairs) and layout.shard_pair_ids(task.index) == {p.id for p in task.pairs[:n_done]}:
        return None
    raise ValueError(
        f"shard {task.index} of {layout.root} was committed from other pairs: the corpus changed "
        "other than by appending pairs; annotate it into a new OUT"
    )


def run_shard(
    task: ShardTask,
    out: str,
    params: Params,
    model: dict[str, Any],
    annotator: SigmaAnnotator | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Annotate one shard unless already committed; returns its marker. Safe to call twice or in parallel
    with other shards (a shard is committed by its marker, written last)."""
    layout = OutputLayout(out)
    marker = committed_marker(layout, task)
    if marker is not None:
        if progress is not None:
            progress(len(task.pairs))
        return marker | {"skipped": True}
    annotator = annotator or load_for_run(model)
    info = {"uri": model["uri"], "version": model["version"], "threshold": annotator.config.threshold}
    return annotate_shard(
        annotator,
        task,
        layout,
        params.annotate,
        info,
        params.validate_.max_pixels,
        params.validate_.max_instruction_chars,
        progress,
    )


Dispatch = Callable[[Iterator[ShardTask]], Iterator[dict[str, Any]]]


def markers_in_order(
    tasks: Iterator[ShardTask], layout: OutputLayout, submit: Callable[[ShardTask], Any], in_flight: int
) -> Iterator[dict[str, Any]]:
    """For a ``dispatch`` that runs shards elsewhere: ``submit(task)`` returns a future (``.result()``
    gives the marker); at most ``in_flight`` shards are pending, so the driver's memory stays flat, and
    markers come back in shard order. Committed shards are skipped here (``--resume``: no worker, nor
    model load, for them)."""
    pending: deque[Any] = deque()  # futures, and markers of committed shards, in shard order
    for task in tasks:
        marker = committed_marker(layout, task)
        pending.append(marker | {"skipped": True} if marker is not None else submit(task))
        if len(pending) >= in_flight:
            yield _marker(pending.popleft())
    while pending:
        yield _marker(pending.popleft())


def _marker(item: Any) -> dict[str, Any]:
    return item if isinstance(item, dict) else item.result()


def annotate_corpus(
    params: Params,
    corpus: str | None = None,
    out: str | None = None,
    model: str | None = None,
    resume: bool = False,
    track: bool = True,
    dispatch: Callable[..., Iterator[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Annotate ``corpus`` into ``out`` with ``model`` (defaults from ``params.annotate``); returns the summary.

    ``dispatch(tasks, out=, params=, model=)`` runs the shards and yields their markers; the default runs
    them one after the other in this process (``flows/annotate.py`` passes one that fans out on Ray).
    """
    cfg = params.annotate
    corpus, out, model_uri = corpus or cfg.corpus, out or cfg.out, model or cfg.model
    layout = OutputLayout(out)
    pinned = pin_model(model_uri)
    annotator = load_for_run(pinned)  # dispatched shards load their own copy; this one gives the threshold
    pinned = pin_weights(pinned, annotator)
    if resume and (existing := layout.read_run()) is not None and (kept := keep_run_model(existing, pinned)) != pinned:
        pinned, annotator = kept, load_for_run(kept)
    info = run_info(corpus, pinned, params, annotator.config.threshold)
    # Open the corpus before OUT is touched: a mistyped corpus fails here and leaves OUT as it was.
    tasks = plan_shards(corpus, cfg.shard_size)
    head = list(islice(tasks, 2))
    tasks = chain(head, tasks)
    check_resumable(layout, info, resume)
    if layout.read_run() is None:
        storage.write_json_atomic(layout.path(RUN_FILE), info)
    start = time.perf_counter()
    markers: list[dict[str, Any]] = []
    try:
        with LoggedProgress(*PROGRESS_COLUMNS, transient=True) as bar:
            job = bar.add_task(corpus, total=None, rate=0.0)

            def advance(n: int) -> None:
                bar.advance(job, n)
                bar.update(job, rate=bar.tasks[0].completed / max(time.perf_counter() - start, 1e-9))

            if dispatch is None and cfg.processes > 1 and len(head) > 1:  # a pool pays off from two shards on
                from sigma.annotate.pool import process_dispatch

                dispatch = process_dispatch(cfg.processes)
            if dispatch is None:
                for task in tasks:
                    markers.append(run_shard(task, out, params, pinned, annotator, advance))
            else:
                for marker in dispatch(tasks, out=out, params=params, model=pinned):
                    advance(marker["pairs"])
                    markers.append(marker)
        summary = finalize(layout, cfg, len(markers)) | {"model_version": pinned["version"]}
    except OSError as exc:  # storage down, disk full, OUT read-only: nothing committed is lost
        if not isinstance(exc, storage.StorageError):  # a local write (staged mask, move, merge): say what to do
            exc = storage.local_error("write", str(exc.filename or out), exc)
        raise storage.StorageError(
            f"{exc}\n{len(markers)} shard(s) of this run are committed in {out} and kept: once the cause is "
            "fixed, run the same command with --resume to continue"
        ) from exc
    summary |= this_run(markers, time.perf_counter() - start, pinned["load"])
    log_summary(layout, params, summary, track)
    return summary


PROGRESS_COLUMNS = (
    TextColumn("annotate {task.description}"),
    MofNCompleteColumn(),
    TimeElapsedColumn(),
    TextColumn("{task.fields[rate]:.1f} pairs/s"),
)
THIS_RUN = ("model_loaded", "pairs_this_run", "shard_seconds", "wall_seconds", "pairs_per_second")


def this_run(markers: list[dict[str, Any]], wall_seconds: float, loaded: str) -> dict[str, Any]:
    """What belongs to this invocation, not to OUT: timings, and the registry version that was loaded.

    ``pairs_per_second`` divides the pairs by the time from the first shard's start to the last one's
    end: the model loads are left out, and shards that ran at once count once."""
    ran = [m for m in markers if not m.get("skipped")]
    pairs = sum(m["pairs"] for m in ran)
    span = max((m["finished_at"] for m in ran), default=0.0) - min((m["started_at"] for m in ran), default=0.0)
    return {  # the keys of THIS_RUN
        "model_loaded": loaded,
        "pairs_this_run": pairs,
        "shard_seconds": round(sum(m["seconds"] for m in ran), 3),
        "wall_seconds": round(wall_seconds, 3),
        "pairs_per_second": round(pairs / span, 3) if span > 0 else None,
    }


def annotate_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary as DVC metrics: without this invocation's timings and loaded version (MLflow has them)."""
    return {k: v for k, v in summary.items() if k not in THIS_RUN and k != "area_histogram"}


def log_summary(layout: OutputLayout, params: Params, summary: dict[str, Any], track: bool) -> None:
    """One MLflow run with the counts, rejects by reason, throughput and the area histogram."""
    if not track:
        return
    import mlflow

    from sigma.tracking import flatten, maybe_run

    with maybe_run(True, "annotate", params.model_dump(mode="json", include={"annotate"}), stage="annotate"):
        numeric = {
            k: float(v) for k, v in flatten(summary).items() if isinstance(v, int | float) and not isinstance(v, bool)
        }
        mlflow.log_metrics(numeric)
        mlflow.log_dict(summary, "summary.json")
        if layout.local:
            mlflow.log_artifact(layout.path("area_histogram.png"))
