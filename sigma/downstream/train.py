"""Train every cell of the downstream experiment: each detector on each label source's IMDL-BenCo
files with the one recipe, ``downstream.seeds`` for the sources in ``downstream.all_seeds`` and the
first seed for the rest. Cells run in ``downstream.processes`` spawned workers, each with an equal
share of the torch threads; every cell is an MLflow run under the pipeline's run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from rich.progress import MofNCompleteColumn, TextColumn, TimeElapsedColumn

from sigma.config import Params
from sigma.data import storage
from sigma.data.workers import spawn_pool
from sigma.progress import LoggedProgress
from sigma.train.detector import train_detector

Cell = tuple[str, str, int]  # (detector, label source, seed)


def train_cell(params: Params, cell: Cell, track: bool = True) -> dict[str, Any]:
    """One detector on one source's ``imdlbenco.train.json`` (validated on ``imdlbenco.val.json``)."""
    cfg = params.downstream
    detector, source, seed = cell
    spec = next(d for d in cfg.detectors if d.name == detector)
    labels = Path(cfg.labels) / source
    train_json = labels / "imdlbenco.train.json"
    if not train_json.exists():
        raise FileNotFoundError(f"{train_json} not found: run `sigma downstream labels` first")
    summary = train_detector(
        spec,
        cfg.train,
        train_json,
        labels / "imdlbenco.val.json",
        cfg.weights(detector, source, seed),
        seed=seed,
        info={"label_source": source, "label_model": cfg.sources[source]},
        track=track,
        run_name=f"detector {detector} on {source} (seed {seed})",
    )
    return {"detector": detector, "source": source, "seed": seed, **summary}


def train_stage(params: Params, metrics: str | Path | None = None, track: bool = True) -> list[dict[str, Any]]:
    """Every cell of ``downstream.cells()``; ``metrics`` gets each cell's last-epoch loss and validation
    figures (DVC metrics); the returned summaries also hold each cell's seconds."""
    cfg = params.downstream
    cells = cfg.cells()
    columns = (TextColumn("train detectors"), MofNCompleteColumn(), TimeElapsedColumn())
    results: list[dict[str, Any]] = []
    with LoggedProgress(*columns, transient=True) as bar:
        job = bar.add_task("cells", total=len(cells))
        if cfg.processes > 1 and len(cells) > 1:
            threads = max(1, torch.get_num_threads() // cfg.processes)
            with spawn_pool(cfg.processes, threads) as pool:
                futures = [pool.submit(train_cell, params, cell, track) for cell in cells]
                for future in futures:
                    results.append(future.result())
                    bar.advance(job)
        else:
            for cell in cells:
                results.append(train_cell(params, cell, track))
                bar.advance(job)
    if metrics:  # without the seconds: the metrics are a function of the data and params (`dvc repro` twice)
        storage.write_json_atomic(
            str(metrics), {"cells": [{k: v for k, v in r.items() if k != "seconds"} for r in results]}
        )
    return results
