"""The data stages as functions: the CLI, ``dvc.yaml`` and the Prefect flows all call these."""

from __future__ import annotations

from pathlib import Path

from sigma.config import DEV_KINDS, DataParams, ValidateParams
from sigma.data.pairs import ManifestError
from sigma.data.storage import StorageError, write_json_atomic
from sigma.data.validate import ValidationReport, validate_once


def synth_stage(kind: str, data: DataParams, out: str | Path | None = None, track: bool = True) -> dict:
    """Synthesise one kind into ``out`` (default ``data/synth/KIND``) and log it to MLflow.

    Raises:
        FileNotFoundError: the sources hold no readable photo.
        ValueError: unknown kind, or the edit mix cannot be drawn from these sources.
    """
    from sigma.data.photos import load_photos
    from sigma.data.synth import synthesise

    if kind in DEV_KINDS:
        photos, skipped = dev_photos(data, kind)
    elif kind == "downstream":
        if data.downstream is None:
            raise ValueError("params.yaml has no data.downstream section: add one to build the downstream corpus")
        photos, skipped = load_photos(data.sources, data.downstream.max_side), None
    else:
        photos, skipped = load_photos(data.sources, data.max_side), None
    summary = synthesise(kind, photos, data, out or Path("data/synth") / kind)
    if skipped:
        summary["skipped"] = skipped
    if track:
        from sigma.tracking import log_summary

        section = data.model_dump(mode="json", include={"sources", "max_side", "split", kind})
        log_summary(f"synth_{kind}", section, summary, stage=f"synth_{kind}")
    return summary


def dev_photos(data: DataParams, kind: str = "dev") -> tuple[list, str | None]:
    """A dev benchmark's photos (``kind``: ``dev`` or ``dev_large``), or none and the reason when its
    source is absent (a user's clone without the shared COCO subset or the large photos): the
    benchmark is then empty and the pipeline runs on."""
    from sigma.data.photos import load_photos

    params = getattr(data, kind)
    if params is None:
        raise ValueError(f"params.yaml has no data.{kind} section: add one to build the {kind} benchmark")
    if params.source is None:
        return [], f"data.{kind}.source is not set"
    source = params.source
    hint = " (`make large-photos` fetches them)" if kind == "dev_large" else ""
    if source.path and not source.path.startswith("s3://") and not Path(source.path).exists():
        return [], f"{kind} benchmark source {source.path} not found{hint}"
    try:
        return load_photos([source], params.max_side), None
    except FileNotFoundError:  # the folder is there, the photos are not (a clone's data/large_photos)
        return [], f"no photo in {kind} benchmark source {source.path}{hint}"


def validate_stage(
    datasets: list[str], params: ValidateParams, report: str | Path | None = None
) -> tuple[bool, dict[str, ValidationReport | str]]:
    """Validate every dataset (the suite runs once per content: :func:`validate_once`, so the
    training stages that validate their inputs again skip it); an unreadable manifest counts as a
    failure (its error as the value).

    Writes a JSON summary to ``report`` (DVC metrics) when given. Returns ``(all_ok, per_dataset)``.
    """
    results: dict[str, ValidationReport | str] = {}
    for dataset in datasets:
        try:
            results[dataset] = validate_once(dataset, params)
        except (ManifestError, StorageError) as exc:
            results[dataset] = f"cannot read manifest: {exc}"
    ok = all(isinstance(r, ValidationReport) and r.success for r in results.values())
    if report:
        summary = {
            "success": ok,
            "n_pairs": sum(r.n_pairs for r in results.values() if isinstance(r, ValidationReport)),
            "datasets": {
                d: r.to_dict() if isinstance(r, ValidationReport) else {"success": False, "error": r}
                for d, r in results.items()
            },
        }
        write_json_atomic(str(report), summary)
    return ok, results
