"""HTTP endpoint for phone trackers: the OsmAnd protocol spoken by the free Traccar Client app.

Set the app's *server URL* to ``http://HOST:PORT/osmand/<token>`` (the token printed by
``convoy device bind``) and its *device identifier* to the bound device id. The app then sends
``?id=&lat=&lon=&timestamp=&speed=&bearing=&altitude=&accuracy=&batt=`` by GET or POST (query,
form or the JSON body of newer app versions); the token may also come as ``?token=`` or an
``Authorization: Bearer`` header. Positions are WGS-84 (GPS), speeds in knots.

Escorts also report check-ins with the same token, from a phone or a field tablet
(``Authorization: Bearer TOKEN``; the token stands for one escort on one convoy, see
``models.tracking.field_checkins``):

* ``POST /api/checkins`` ``{"kind": "depart", "payload": {...}, "at": "ISO time"}`` records a
  check-in (kinds and payloads as ``convoy checkin``); 201, or 200 for a retry already stored
  (the same ``at``, or the same optional ``client_id``, a UUID made on the device);
* ``GET /api/convoy``: stage, next step, the check-in it waits for, custody counts;
* ``GET /api/tasks``: the escort's tasks on the convoy.

Errors are ``{"error": "<a full sentence>"}``: 401 without a valid token, 403 for a revoked
device or another convoy, 422 for a check-in that breaks a rule.

The escorts' phone page (``flows.api.field``, ``/field/<signed link>``) is served here too.

Serve it with ``convoy serve`` or ``python -m flows.api.tracker --host 127.0.0.1 --port 5055``.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from sqlalchemy.exc import IntegrityError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from config import Settings, get_settings
from flows.api import field
from models.db import init_db, session_scope, utcnow
from models.errors import (
    AuthenticationError,
    ConvoyOpsError,
    NotFoundError,
    TransitionError,
    ValidationError,
)
from models.tracking.devices import authenticate_device, ingest_device_fix
from models.tracking.eta import make_router
from models.tracking.field_checkins import (
    ForbiddenError,
    check_scope,
    checkin_view,
    device_for_token,
    device_tasks,
    field_checkin,
)
from models.tracking.osmand import parse_osmand
from models.views.reports import convoy_status

log = logging.getLogger("convoy.api")


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        raw = await request.body()
        if raw:
            if "json" in ctype or raw.lstrip()[:1] == b"{":
                try:
                    doc = json.loads(raw)
                except ValueError:
                    raise ValidationError("The request body is not valid JSON.") from None
                if not isinstance(doc, dict):
                    raise ValidationError("The JSON body must be an object.")
                params.update(doc)
            else:  # application/x-www-form-urlencoded, as the app sends it
                params.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=False))
    return params


def _token(request: Request, params: dict[str, Any], path_token: str | None) -> str:
    return path_token or _bearer(request) or str(params.get("token") or "")


def _bearer(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else ""


def _json(raw: bytes) -> Any:
    if not raw.strip():
        raise ValidationError(
            'The request has no body; send a JSON object like {"kind": "depart"}.'
        )
    try:
        return json.loads(raw)
    except ValueError:
        raise ValidationError("The request body is not valid JSON.") from None


def _status(exc: ConvoyOpsError, api: bool) -> int:
    """HTTP status of an error; the JSON API answers rule breaks with 422 and conflicts with 409
    (the tracker endpoint keeps the 400 trackers know)."""
    if isinstance(exc, ForbiddenError):
        return 403
    if isinstance(exc, AuthenticationError):
        return 401
    if isinstance(exc, NotFoundError):
        return 404
    if api and isinstance(exc, ValidationError):
        return 422
    if api and isinstance(exc, TransitionError):
        return 409
    return 400


def _resume(code: str) -> None:
    from flows.service.live import resume_after

    try:
        line = resume_after("convoy", code)
    except Exception as exc:  # the check-in is stored; convoy serve resumes the run later
        log.warning("%s: flow run not resumed after a check-in: %s", code, exc)
        return
    if line:
        log.info("%s: %s", code, line)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI application (one per process; settings are read at start)."""
    settings = settings or get_settings()
    init_db(settings)
    router = make_router(settings.router, settings.router_url, settings.router_timeout_seconds)
    app = FastAPI(
        title="Convoy Ops tracking and check-ins", docs_url=None, redoc_url=None, openapi_url=None
    )

    @app.exception_handler(ConvoyOpsError)
    async def _error(request: Request, exc: ConvoyOpsError) -> JSONResponse:
        api = request.url.path.startswith("/api/")
        code = _status(exc, api)
        headers = {"WWW-Authenticate": "Bearer"} if api and code == 401 else None
        return JSONResponse({"error": str(exc)}, status_code=code, headers=headers)

    def _ingest(params: dict[str, Any], token: str) -> dict[str, Any]:
        report = parse_osmand(params, utcnow())
        with session_scope(settings) as session:
            device = authenticate_device(session, report.device_id, token or report.token)
            result = ingest_device_fix(
                session, device, report.fix, now=utcnow(), settings=settings, router=router
            )
            state = result.state
            body: dict[str, Any] = {"status": result.status.value}
            if state is not None:
                body["eta"] = state.eta.isoformat()
                body["remaining_km"] = round(state.remaining_km, 1)
        return body

    async def osmand(request: Request, token: str | None = None) -> JSONResponse:
        params = await _params(request)
        # The database work is synchronous: run it off the event loop.
        body = await run_in_threadpool(_ingest, params, _token(request, params, token))
        return JSONResponse(body)

    for path in ("/", "/osmand", "/osmand/{token}"):
        app.add_api_route(path, osmand, methods=["GET", "POST"])

    # --- the escorts' JSON API (models.tracking.field_checkins) -----------------------------

    def _checkin(token: str, raw: bytes, convoy: str | None) -> tuple[dict[str, Any], bool]:
        for attempt in (1, 2):  # one client_id sent twice at once: the second finds the first
            try:
                with session_scope(settings) as session:
                    device = device_for_token(session, token, convoy)  # 401/403 before the body
                    body = _json(raw)
                    checkin, created = field_checkin(
                        session, device, body, now=utcnow(), settings=settings
                    )
                    return checkin_view(checkin, check_scope(session, device), settings), created
            except IntegrityError:
                if attempt == 2:
                    raise ValidationError(
                        "This check-in was sent twice at the same moment; send it again."
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    @app.post("/api/checkins")
    async def post_checkin(request: Request) -> JSONResponse:
        token, convoy = _bearer(request), request.query_params.get("convoy")
        body, created = await run_in_threadpool(_checkin, token, await request.body(), convoy)
        # Once answered: resume the convoy's suspended flow run if it waited for this check-in.
        resume = BackgroundTask(_resume, body["convoy"]) if created else None
        return JSONResponse(body, status_code=201 if created else 200, background=resume)

    def _convoy(token: str, convoy: str | None) -> dict[str, Any]:
        with session_scope(settings) as session:
            device = device_for_token(session, token, convoy)
            return convoy_status(session, check_scope(session, device).code)

    @app.get("/api/convoy")
    async def get_convoy_status(request: Request) -> JSONResponse:
        token, convoy = _bearer(request), request.query_params.get("convoy")
        return JSONResponse(await run_in_threadpool(_convoy, token, convoy))

    def _tasks(token: str, convoy: str | None) -> dict[str, Any]:
        with session_scope(settings) as session:
            device = device_for_token(session, token, convoy)
            code = check_scope(session, device).code
            return {"convoy": code, "tasks": device_tasks(session, device, settings)}

    @app.get("/api/tasks")
    async def get_escort_tasks(request: Request) -> JSONResponse:
        token, convoy = _bearer(request), request.query_params.get("convoy")
        return JSONResponse(await run_in_threadpool(_tasks, token, convoy))

    # --- maps and reports over HTTP (the flows' artifacts link here when served) -----------

    shown = {".html", ".png", ".svg", ".js", ".css", ".json", ".geojson", ".woff", ".woff2"}

    @app.get("/files/{path:path}")
    async def output_file(path: str) -> FileResponse:
        root = settings.output_dir.resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or target.suffix.lower() not in shown:
            raise NotFoundError(f"There is no map or report called {path!r}.")
        if not target.is_file():
            raise NotFoundError(f"There is no map or report called {path!r} (yet).")
        return FileResponse(target)

    def _report(code: str | None) -> dict[str, Any]:
        from models.views.reports import campaign_figures

        with session_scope(settings) as session:
            return convoy_status(session, code) if code else campaign_figures(session, None)

    @app.get("/reports/convoys/{code}")
    async def convoy_report(code: str) -> JSONResponse:
        """A convoy's stage and counts (no personal data)."""
        return JSONResponse(await run_in_threadpool(_report, code))

    @app.get("/reports/campaign")
    async def campaign_report() -> JSONResponse:
        """The campaign figures a manager reports."""
        return JSONResponse(await run_in_threadpool(_report, None))

    @app.get("/health")
    async def health() -> PlainTextResponse:
        return PlainTextResponse("ok")

    field.mount(app, settings)  # the escorts' phone page, /field/<their signed link>
    return app


def serve(
    host: str | None = None, port: int | None = None, settings: Settings | None = None
) -> None:
    """Serve the tracker endpoint with uvicorn until interrupted."""
    import uvicorn

    settings = settings or get_settings()
    uvicorn.run(
        create_app(settings),
        host=host or settings.http_host,
        port=port or settings.http_port,
        log_level="warning",
        access_log=False,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Convoy Ops tracker endpoint (OsmAnd protocol) and escorts' check-in API."
    )
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    serve(args.host, args.port)


if __name__ == "__main__":  # pragma: no cover
    main()
