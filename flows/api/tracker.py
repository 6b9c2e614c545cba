"""The HTTP API served by ``convoy serve``: phone trackers (the OsmAnd protocol spoken by the
free Traccar Client app), escorts' check-ins, convoy status and tasks, reports and the flows'
maps. ``create_app(settings)`` assembles it; other routers mount onto it with
``app.include_router`` and get the same body limit, error bodies, security headers and
access-log redaction.

Trackers: set the app's *server URL* to ``<public URL>/osmand/<token>`` (the line ``convoy
device bind`` prints) and its *device identifier* to the bound device id. The app then sends
``?id=&lat=&lon=&timestamp=&speed=&bearing=&altitude=&accuracy=&batt=`` by GET or POST (query,
form or the JSON body of newer app versions); the token may also come as ``?token=`` or an
``Authorization: Bearer`` header. Positions are WGS-84 (GPS), speeds in knots.

Everything else takes ``Authorization: Bearer TOKEN``: a device token (the device acts as its
escort, on its one convoy) or a user token (``convoy users token``; the user's role decides,
``models.access.roles``):

* ``POST /api/checkins`` ``{"kind": "depart", "payload": {...}, "at": "ISO time"}`` records a
  check-in (kinds and payloads as ``convoy checkin``; right ``checkin.write``: a device, an
  escort on their own convoys, a coordinator); 201, or 200 for a retry already stored;
* ``GET /api/convoy``: stage, next step, the check-in it waits for, custody counts
  (``convoy.read``);
* ``GET /api/tasks``: escort tasks on the convoy (``task.read``);
* ``GET /reports/campaign``, ``GET /reports/convoys/{code}`` (``report.read``: manager,
  coordinator), ``GET /files/{path}`` (maps and reports, ``map.read``);
* ``GET /openapi.json`` (the whole API), ``GET /health``.

Check-ins may carry a ``client_id`` (a UUID made on the device): sent again, the stored
check-in is answered (200), so an offline queue records each report once. The escorts' phone
page (``flows.api.field``, ``/field/<signed link>``) and the coordinators' console
(``flows.api.console``, ``/console``) are served here too.

Users name the convoy with ``?convoy=CODE`` (an escort with one active convoy need not). Errors
are ``{"error": "<a full sentence>"}`` (``flows.api.guard`` has the status codes: 401 for
credentials that do not authenticate — missing, unknown, expired or revoked, a revoked device
included — and 403 for a caller who may not do this). Every write is audited with the user or
device as actor.

Serve it with ``convoy serve`` or ``python -m flows.api.tracker --host 127.0.0.1 --port 5055``.
"""

from __future__ import annotations

import argparse
import logging
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import IntegrityError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from config import Settings, get_settings
from flows.api import console, field, files
from flows.api.console.guard import MAX_UPLOAD_BYTES
from flows.api.guard import SECRET_PATHS, BodyLimit, install_error_handlers, load_json
from flows.api.hardening import add_security_headers, redact_access_log
from flows.api.schemas import (
    ERRORS,
    CheckinAnswer,
    OsmAndAnswer,
    TasksAnswer,
    body_of,
    install_openapi,
    query_of,
)
from flows.service.live import resume_quietly
from models.access.actors import acting_as
from models.access.users import check
from models.db import init_db, session_scope, utcnow
from models.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from models.tracking.devices import authenticate_device, ingest_device_fix
from models.tracking.eta import make_router
from models.tracking.field_checkins import (
    CODE_LIMIT,
    Caller,
    CheckinRequest,
    caller_for_token,
    caller_tasks,
    checkin_view,
    convoy_for,
    field_checkin,
)
from models.tracking.osmand import OsmAndFields, OsmAndJson, parse_osmand
from models.views.reports import convoy_status

log = logging.getLogger("convoy.api")

TRACKER_PATHS = ("/osmand",)
OSMAND_MAX_BODY = 16384  # bytes: a report is a few hundred
_bearer_scheme = HTTPBearer(
    auto_error=False,
    description="A device token (convoy device bind) or a user token (convoy users token).",
)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)]
ConvoyParam = Annotated[
    str | None,
    Query(max_length=CODE_LIMIT, description="The convoy (a device's own one if omitted)."),
]


def _bearer(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth[:7].lower() == "bearer " else ""


async def _params(request: Request) -> tuple[dict[str, Any], bool]:
    """The OsmAnd fields of a request (query, then form or JSON body) and whether the body
    was JSON."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method != "POST":
        return params, False
    raw = await request.body()
    if not raw.strip():
        return params, False
    ctype = request.headers.get("content-type", "")
    if "json" in ctype or raw.lstrip()[:1] == b"{":
        doc = load_json(raw)
        if not isinstance(doc, dict):
            raise ValidationError("The JSON body must be an object.")
        return {**params, **doc}, True
    try:  # application/x-www-form-urlencoded, as the app sends it
        fields = parse_qsl(raw.decode("utf-8"), max_num_fields=50, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise ValidationError(
            "The form body could not be read (not UTF-8, or too many fields)."
        ) from None
    return {**params, **dict(fields)}, False


def _files_csp(settings: Settings) -> str:
    """The maps are HTML with inline scripts and vendored assets: 'self' only (and the tile
    server, when one is configured)."""
    tiles = ""
    if settings.tile_url:
        parts = urlsplit(settings.tile_url.replace("{s}", "*"))
        tiles = f" {parts.scheme}://{parts.netloc}" if parts.netloc else ""
    return (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
        f"'unsafe-inline'; img-src 'self' data: blob:{tiles}; font-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI application (one per process; settings are read at start)."""
    settings = settings or get_settings()
    init_db(settings)
    router = make_router(settings.router, settings.router_url, settings.router_timeout_seconds)
    app = FastAPI(
        title="Convoy Ops HTTP API",
        description=__doc__,
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    limit = settings.api_max_body_bytes

    def limit_for(path: str) -> int:
        if path == "/" or path.startswith(TRACKER_PATHS):
            return OSMAND_MAX_BODY
        # The console takes whole manifests and enterprise lists (its own upload limit).
        return MAX_UPLOAD_BYTES if path.startswith("/console/") else limit

    app.add_middleware(BodyLimit, limit_for=limit_for)
    add_security_headers(app, https=settings.public_url.startswith("https://"))
    redact_access_log(SECRET_PATHS)
    install_error_handlers(app, TRACKER_PATHS)
    install_openapi(app)

    def caller(token: str) -> Caller:
        with session_scope(settings) as session:
            return caller_for_token(session, token)

    # --- trackers (OsmAnd) -----------------------------------------------------------------

    def _ingest(params: dict[str, Any], token: str, from_json: bool) -> dict[str, Any]:
        report = parse_osmand(params, utcnow(), from_json=from_json)
        token = token or report.token
        with session_scope(settings) as session:
            if token.startswith("cvo_"):
                _refuse_user_token(session, token)
            device = authenticate_device(session, report.device_id, token)
            with acting_as(_device_actor(device), "api"):
                check(session, _device_actor(device), "checkin.write", convoy_id=device.convoy_id)
                result = ingest_device_fix(
                    session, device, report.fix, now=utcnow(), settings=settings, router=router
                )
            state = result.state
            body: dict[str, Any] = {"status": result.status.value}
            if state is not None:
                body["eta"] = state.eta.isoformat()
                body["remaining_km"] = round(state.remaining_km, 1)
        return body

    osmand_doc: dict[str, Any] = {
        "parameters": query_of(OsmAndFields),
        **body_of(
            {"application/x-www-form-urlencoded": OsmAndFields, "application/json": OsmAndJson},
            required=False,
        ),
    }

    async def osmand(request: Request) -> JSONResponse:
        """A position from Traccar Client (OsmAnd protocol): query, form or JSON body."""
        params, from_json = await _params(request)
        token = str(request.path_params.get("token") or "")
        given = token or _bearer(request) or str(params.get("token") or "")
        # The database work is synchronous: run it off the event loop.
        body = await run_in_threadpool(_ingest, params, given[:200], from_json)
        return JSONResponse(body)

    tracker = APIRouter(tags=["trackers"])
    responses: dict[int | str, dict[str, Any]] = {
        200: {"model": OsmAndAnswer},
        400: ERRORS[422] | {"description": "The report breaks a rule."},
        401: ERRORS[401],
        403: ERRORS[403],
        413: ERRORS[413],
    }
    tracker.add_api_route(
        "/", osmand, methods=["GET", "POST"], include_in_schema=False, name="osmand_root"
    )
    token_param = {
        "name": "token",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "maxLength": 200},
    }
    for path in ("/osmand", "/osmand/{token}"):
        extra = osmand_doc
        if "{" in path:
            extra = {**osmand_doc, "parameters": [token_param, *osmand_doc["parameters"]]}
        for method in ("GET", "POST"):
            name = f"osmand_{method.lower()}" + ("_token" if "{" in path else "")
            tracker.add_api_route(
                path,
                osmand,
                methods=[method],
                openapi_extra=extra if method == "POST" else {"parameters": extra["parameters"]},
                responses=responses,
                name=name,
                operation_id=name,
            )
    app.include_router(tracker)

    # --- the escorts' JSON API (models.tracking.field_checkins) -----------------------------

    api = APIRouter(prefix="/api", tags=["escorts"], responses=ERRORS)

    def _checkin(token: str, raw: bytes, convoy: str | None) -> tuple[dict[str, Any], bool]:
        who = caller(token)  # 401 before the body is read
        body = load_json(raw)
        for attempt in (1, 2):  # one client_id sent twice at once: the second finds the first
            try:
                with acting_as(who.actor, "api"), session_scope(settings) as session:
                    checkin, target, created = field_checkin(
                        session, who, body, now=utcnow(), convoy=convoy, settings=settings
                    )
                    return checkin_view(checkin, target, settings), created
            except IntegrityError:
                if attempt == 2:
                    raise ValidationError(
                        "This check-in was sent twice at the same moment; send it again."
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    @api.post(
        "/checkins",
        status_code=201,
        response_model=CheckinAnswer,
        responses={200: {"model": CheckinAnswer, "description": "A retry already stored."}},
        openapi_extra=body_of({"application/json": CheckinRequest}),
    )
    async def post_checkin(
        request: Request, _auth: Bearer, convoy: ConvoyParam = None
    ) -> JSONResponse:
        """Record a check-in (as ``convoy checkin``) on the caller's convoy."""
        token = _bearer(request)
        # Unauthenticated callers are refused before their body is read.
        await run_in_threadpool(caller, token)
        raw = await request.body()
        body, created = await run_in_threadpool(_checkin, token, raw, convoy)
        # Once answered: resume the convoy's suspended flow run if it waited for this check-in.
        resume = BackgroundTask(resume_quietly, "convoy", body["convoy"]) if created else None
        return JSONResponse(body, status_code=201 if created else 200, background=resume)

    def _convoy(token: str, convoy: str | None) -> dict[str, Any]:
        who = caller(token)
        with acting_as(who.actor, "api"), session_scope(settings) as session:
            return convoy_status(session, convoy_for(session, who, convoy, "convoy.read").code)

    @api.get("/convoy")
    async def get_convoy_status(
        request: Request, _auth: Bearer, convoy: ConvoyParam = None
    ) -> JSONResponse:
        """A convoy's stage, next step, the check-in it waits for and custody counts."""
        return JSONResponse(await run_in_threadpool(_convoy, _bearer(request), convoy))

    def _tasks(token: str, convoy: str | None) -> dict[str, Any]:
        who = caller(token)
        with acting_as(who.actor, "api"), session_scope(settings) as session:
            target = convoy_for(session, who, convoy, "task.read")
            return {"convoy": target.code, "tasks": caller_tasks(session, who, target, settings)}

    @api.get("/tasks", response_model=TasksAnswer)
    async def get_escort_tasks(
        request: Request, _auth: Bearer, convoy: ConvoyParam = None
    ) -> JSONResponse:
        """Escort tasks on the convoy: the caller's own, or every escort's for a coordinator."""
        return JSONResponse(await run_in_threadpool(_tasks, _bearer(request), convoy))

    app.include_router(api)

    # --- maps and reports over HTTP (the flows' artifacts link here when served) -----------

    reports = APIRouter(tags=["reports"], responses=ERRORS)
    shown = {".html", ".png", ".svg", ".js", ".css", ".json", ".geojson", ".woff", ".woff2"}
    files_csp = _files_csp(settings)

    def _allowed(token: str, action: str) -> None:
        who = caller(token)
        with session_scope(settings) as session:
            check(session, who.actor, action)

    secure_cookie = settings.public_url.startswith("https://")

    @reports.get("/files/{path:path}", response_class=FileResponse)
    async def output_file(
        request: Request,
        _auth: Bearer,
        path: Annotated[str, Path(max_length=300)],
        sig: Annotated[
            str | None,
            Query(max_length=100, description="The signature of a link a flow printed."),
        ] = None,
    ) -> FileResponse:
        """A map or report the flows wrote: with a signed link (``flows.api.files``), its
        cookie, or a bearer token with ``map.read``."""
        cookie = request.cookies.get(files.COOKIE, "")
        by_link = bool(sig) and files.granted(path, sig or "", settings)
        if not by_link and not (cookie and files.granted(path, cookie, settings)):
            await run_in_threadpool(_allowed, _bearer(request), "map.read")
        root = settings.output_dir.resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or target.suffix.lower() not in shown:
            raise NotFoundError("There is no map or report by that name.")
        if not target.is_file():
            raise NotFoundError("There is no map or report by that name (yet).")
        response = FileResponse(target, headers={"Content-Security-Policy": files_csp})
        if by_link:  # the map's scripts and styles beside it open with the same grant
            folder = files.folder_of(path)
            response.set_cookie(
                files.COOKIE, sig or "", max_age=files.LINK_DAYS * 86400,
                path=f"/files/{folder}/" if folder else "/files/", httponly=True,
                samesite="strict", secure=secure_cookie,
            )  # fmt: skip
        return response

    def _report(token: str, code: str | None) -> dict[str, Any]:
        from models.views.reports import campaign_figures

        who = caller(token)
        with acting_as(who.actor, "api"), session_scope(settings) as session:
            check(session, who.actor, "report.read")
            return convoy_status(session, code) if code else campaign_figures(session, None)

    @reports.get("/reports/convoys/{code}")
    async def convoy_report(
        request: Request, _auth: Bearer, code: Annotated[str, Path(max_length=CODE_LIMIT)]
    ) -> JSONResponse:
        """A convoy's stage and counts, no personal data (``report.read``)."""
        return JSONResponse(await run_in_threadpool(_report, _bearer(request), code))

    @reports.get("/reports/campaign")
    async def campaign_report(request: Request, _auth: Bearer) -> JSONResponse:
        """The campaign figures a manager reports (``report.read``)."""
        return JSONResponse(await run_in_threadpool(_report, _bearer(request), None))

    app.include_router(reports)

    @app.get("/health", response_class=PlainTextResponse, tags=["service"])
    async def health() -> PlainTextResponse:
        return PlainTextResponse("ok")

    console.mount(app, settings)  # the coordinators' console and managers' view at /console
    field.mount(app, settings)  # the escorts' phone page at /field/<signed link>

    return app


def _device_actor(device: Any) -> Any:
    from models.access import actors

    return actors.device(device.device_id, device.escort_id)


def _refuse_user_token(session: Any, token: str) -> None:
    """A valid user token on the tracker endpoint: known, but positions come from devices."""
    from models.access.users import authenticate

    try:
        authenticate(session, token)
    except AuthenticationError:
        return  # not a user's: the device check says what is wrong
    raise PermissionDeniedError(
        "Positions come from trackers bound with 'convoy device bind'; a user token cannot "
        "send them."
    )


def serve(
    host: str | None = None, port: int | None = None, settings: Settings | None = None
) -> None:
    """Serve the API with uvicorn until interrupted."""
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
        description="Convoy Ops HTTP API: trackers (OsmAnd protocol), check-ins, reports."
    )
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    serve(args.host, args.port)


if __name__ == "__main__":  # pragma: no cover
    main()
