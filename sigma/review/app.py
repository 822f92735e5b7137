"""``sigma review``: a local web app over an annotation run (a folder or an ``s3://`` prefix).

Server-rendered pages (FastAPI + Jinja2) with a little JavaScript for the keys:

- ``/``: the grid, paged, sorted (confidence ascending by default: worst first, area, id) and filtered
  (edit type, parsed action, confidence range, side effect, review state);
- ``/detail?pos=K&...``: one pair at position K of the same ordering: flicker between original and
  edited, mask opacity, zoom; ``a``/``r``/``f`` decide (and move on), ``n``/``p`` move;
- ``/api/...``: the same data as JSON, and ``POST /api/decisions``;
- ``/calibration.png``: accept rate by confidence bin (GETs never write; ``sigma export`` saves it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from sigma.data import storage
from sigma.review.calibration import accept_rate_by_confidence, plot
from sigma.review.decisions import ReviewLog
from sigma.review.images import render
from sigma.review.index import AnnotationIndex, Query

HERE = Path(__file__).parent
THUMB_SIDE = 256


class DecisionIn(BaseModel):
    id: str
    decision: Literal["accept", "reject", "flag"]
    note: str = ""
    reviewer: str | None = None


def grid_query(
    sort: str = "confidence",
    order: Literal["asc", "desc"] = "asc",
    edit_type: str = "",
    action: str = "",
    min_conf: str = "",
    max_conf: str = "",
    side: Literal["", "yes", "no"] = "",
    attribution: Literal["", "known", "unknown"] = "",
    state: str = "",
    page: int = 1,
    per_page: int = 48,
) -> Query:
    """The query string of a grid or detail page (HTML forms send empty strings for 'any')."""
    try:
        return Query(
            sort=sort,
            descending=order == "desc",
            edit_type=edit_type or None,
            action=action or None,
            min_confidence=float(min_conf) if min_conf else None,
            max_confidence=float(max_conf) if max_conf else None,
            side_effect={"yes": True, "no": False}.get(side),
            split_known={"known": True, "unknown": False}.get(attribution),
            state=state or None,
            page=page,
            per_page=per_page,
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


QueryDep = Annotated[Query, Depends(grid_query)]


def query_string(q: Query, **changes: Any) -> str:
    """``q`` as URL parameters (defaults left out), with ``changes`` applied."""
    params = {
        "sort": q.sort,
        "order": "desc" if q.descending else "asc",
        "edit_type": q.edit_type or "",
        "action": q.action or "",
        "min_conf": "" if q.min_confidence is None else q.min_confidence,
        "max_conf": "" if q.max_confidence is None else q.max_confidence,
        "side": "" if q.side_effect is None else ("yes" if q.side_effect else "no"),
        "attribution": "" if q.split_known is None else ("known" if q.split_known else "unknown"),
        "state": q.state or "",
        "per_page": q.per_page,
    } | changes
    defaults = {"sort": "confidence", "order": "asc", "per_page": 48}
    return urlencode({k: v for k, v in params.items() if v != "" and defaults.get(k) != v})


def create_app(out: str, root: str = ".", reviewer: str | None = None) -> FastAPI:
    """The app over annotation run ``out``; corpus paths in its records resolve against ``root``."""
    index = AnnotationIndex(out)
    log = ReviewLog(out)
    index.set_decisions({k: v["decision"] for k, v in log.latest.items()})
    total = index.total()
    templates = Jinja2Templates(directory=HERE / "templates")
    app = FastAPI(title="SIGMA review", summary=f"Review the masks of {out}")
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def page_context(request: Request, q: Query) -> dict[str, Any]:
        return {
            "request": request,
            "out": out,
            "q": q,
            "qs": lambda **changes: query_string(q, **changes),
            "stats": log.stats(total),
            "reviewer": reviewer or "",
        }

    @app.get("/", response_class=HTMLResponse)
    def grid(request: Request, q: QueryDep) -> Response:
        matches = index.count(q)
        context = page_context(request, q) | {
            "items": index.page(q),
            "matches": matches,
            "pages": max(1, -(-matches // q.per_page)),
            "facets": index.facets(),
        }
        return templates.TemplateResponse(request, "grid.html", context)

    @app.get("/detail", response_class=HTMLResponse)
    def detail(request: Request, q: QueryDep, pos: int = 0) -> Response:
        record = index.at(q, pos)
        if record is None:
            raise HTTPException(404, f"no pair at position {pos} of this view")
        context = page_context(request, q) | {"record": record, "pos": pos, "matches": index.count(q)}
        return templates.TemplateResponse(request, "detail.html", context)

    @app.get("/picture/{row}/{kind}")
    def picture(row: int, kind: str, max_side: int | None = None) -> Response:
        try:
            record = index.by_row(row)
            png = render(record, kind, out, root, max_side)
        except KeyError as exc:
            raise HTTPException(404, str(exc)) from None
        except ValueError as exc:  # an unknown kind, an undecodable image
            raise HTTPException(422, str(exc)) from None
        except storage.StorageError as exc:
            raise HTTPException(
                404, f"{exc} (start `sigma review` with --root at the folder annotate ran in)"
            ) from None
        return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    @app.get("/api/annotations")
    def annotations(q: QueryDep) -> dict[str, Any]:
        matches = index.count(q)
        return {"total": matches, "page": q.page, "per_page": q.per_page, "items": index.page(q)}

    @app.get("/api/stats")
    def stats() -> dict[str, Any]:
        return log.stats(total)

    @app.post("/api/decisions")
    def decide(body: DecisionIn) -> dict[str, Any]:
        row = index.row_of(body.id)
        if row is None:
            raise HTTPException(404, f"no annotation with id {body.id!r} in {out}")
        version = index.by_row(row).get("model_version")
        try:
            entry = log.record(body.id, body.decision, body.note, body.reviewer or reviewer, version)
        except storage.StorageError as exc:
            raise HTTPException(503, f"{exc}: the decision was not saved") from None
        index.set_decision(body.id, body.decision)
        return {"decision": entry, "stats": log.stats(total)}

    @app.get("/api/calibration")
    def calibration() -> dict[str, Any]:
        return accept_rate_by_confidence(index)

    @app.get("/calibration.png")
    def calibration_png() -> Response:
        png = plot(accept_rate_by_confidence(index))
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.exception_handler(storage.StorageError)
    def storage_error(request: Request, exc: storage.StorageError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    return app
