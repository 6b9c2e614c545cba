"""The escorts' phone page, served by ``convoy serve`` on the HTTP app of ``flows.api.tracker``
(``flows.api.field.mount``).

An escort opens ``/field/<token>``, their personal signed link (``convoy escort link BADGE``,
and at the end of every task notice; ``models.access.escort_links``). The page shows their
convoys, the next task, the roster by seat (masked) and a form for each step, the one now due
open; forms are sent by a small script (``static/field.js``) that keeps every report in the
phone's storage with an id made on the phone until the server has it, so a check-in made
without signal is sent when the network returns, once (``checkin.client_id`` is unique). A
service worker (``static/sw.js``) keeps the page itself available offline.

* ``POST /field/<token>/checkins`` ``{"convoy", "kind", "payload", "at"?, "client_id"}``: the
  same path as the CLI and the device API (``models.tracking.field_checkins.report_checkin`` →
  ``record_checkin``), as the escort (audited, their convoys only); then the convoy's suspended
  flow run is resumed. 201 new, 200 a repeat; refusals 4xx ``{"error": "<sentence>"}``.
* ``POST /field/<token>/holds`` ``{"convoy", "seat", "reason", "location", "withdraw"}``: hold
  or withdraw one passenger (``models.convoy.operations.hold_or_withdraw``); a repeat of a
  passenger already in that state is 200.

Nothing here is fetched from another site: the script, the styles and the worker are files of
this package (no library, no CDN).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from config import Settings
from flows.api.guard import status_of as guard_status_of
from flows.api.hardening import BodyTooLarge, RateLimiter, read_body, redact_access_log
from flows.service.live import resume_quietly
from models.access.actors import acting_as
from models.access.escort_links import escort_actor, escort_for_token
from models.convoy.lifecycle import Custody
from models.convoy.tables import Convoy, Escort
from models.db import session_scope, utcnow
from models.errors import (
    AuthenticationError,
    ConvoyOpsError,
    PermissionDeniedError,
    ValidationError,
)
from models.intake.registration import LinkError
from models.labels import labels
from models.views.field import escort_convoys, field_view

HERE = Path(__file__).resolve().parent
log = logging.getLogger("convoy.api.field")
MAX_BODY = 300_000  # a check-in with a drawn signature is a few tens of kB
SOURCE = "web"  # check-ins from the escorts' page
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; worker-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the signed link in the address bar never leaks onward
    "Permissions-Policy": "geolocation=(self), camera=(), microphone=()",
}
_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def status_of(exc: ConvoyOpsError) -> int:
    """The HTTP status of a refusal, as the HTTP API gives it (``flows.api.guard.status_of``),
    except for what a page's signed link, not a bearer token, proves: a tampered or revoked
    link is 403, an expired one 410 (a 401 would ask for credentials a page has no way to
    give). Never a 500 for what the escort sent."""
    if isinstance(exc, LinkError):
        return 410 if exc.expired else 403
    if isinstance(exc, AuthenticationError):
        return 403
    return guard_status_of(exc, tracker=False)


def _own_convoy(session: Any, escort: Escort, code: Any) -> Convoy:
    if not isinstance(code, str) or not code.strip():
        raise ValidationError("The report names no convoy; reload the page and send it again.")
    found = next((c for c in escort_convoys(session, escort) if c.code == code.strip()), None)
    if found is None:
        raise PermissionDeniedError(f"{escort.badge} does not escort convoy {code.strip()}.")
    return found


def _body(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw or b"null")
    except ValueError:
        raise ValidationError("The report could not be read (not JSON).") from None
    if not isinstance(doc, dict):
        raise ValidationError("The report must be a JSON object.")
    return doc


def add_routes(app: FastAPI, settings: Settings) -> None:
    """The page, its two POST endpoints, its files and its service worker."""
    redact_access_log((r"(/field/)[^\s?\"/]+",))
    per_link = RateLimiter(240, 60.0)  # a phone flushing its queue sends a few dozen at most
    app.mount("/field/static", StaticFiles(directory=HERE / "static"), name="field-static")

    def page(token: str, code: str | None) -> tuple[int, str]:
        words = labels("field", settings.locale)
        try:
            with session_scope(settings) as session:
                escort = escort_for_token(session, token, settings)
                with acting_as(escort_actor(escort), "api"):
                    view = field_view(session, escort, code, settings)
        except ConvoyOpsError as exc:
            html = _env.get_template("refused.html").render(t=words, reason=str(exc),
                                                             lang=settings.locale)  # fmt: skip
            return status_of(exc), html
        html = _env.get_template("page.html").render(
            t=words, v=view, c=view["convoy"], token=token, lang=settings.locale,
            stages=labels("stages", settings.locale),
        )  # fmt: skip
        return 200, html

    @app.get("/field/sw.js", include_in_schema=False)
    async def service_worker() -> FileResponse:
        return FileResponse(
            HERE / "static" / "sw.js",
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", **HEADERS},
        )

    @app.get("/field/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def escort_page(token: str, convoy: str | None = None) -> HTMLResponse:
        status, html = await run_in_threadpool(page, token, convoy)
        return HTMLResponse(html, status_code=status, headers={**HEADERS, "Cache-Control":
                                                                "no-cache"})  # fmt: skip

    def checkin(token: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        from models.tracking.field_checkins import checkin_view, report_checkin

        for attempt in (1, 2):  # the same report sent twice at one moment: the second finds it
            try:
                with session_scope(settings) as session:
                    escort = escort_for_token(session, token, settings)
                    convoy = _own_convoy(session, escort, body.get("convoy"))
                    report = {k: v for k, v in body.items() if k != "convoy"}
                    with acting_as(escort_actor(escort), "api"):
                        ci, created = report_checkin(
                            session, convoy, escort, report, now=utcnow(), settings=settings,
                            source=SOURCE,
                        )  # fmt: skip
                        return checkin_view(ci, convoy, settings), created
            except IntegrityError:
                if attempt == 2:
                    raise ValidationError(
                        "This report was sent twice at the same moment; send it again."
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def hold(token: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        from models.convoy.operations import hold_or_withdraw
        from models.convoy.store import passengers

        seat, reason = body.get("seat"), str(body.get("reason") or "").strip()
        if isinstance(seat, str) and seat.strip().isdigit():
            seat = int(seat)
        if not isinstance(seat, int) or isinstance(seat, bool):
            raise ValidationError("A hold names the seat of the passenger (a number).")
        if not reason:
            raise ValidationError("A hold needs a reason.")
        to = Custody.WITHDRAWN if body.get("withdraw") else Custody.HELD
        with session_scope(settings) as session:
            escort = escort_for_token(session, token, settings)
            convoy = _own_convoy(session, escort, body.get("convoy"))
            found = next((p for p in passengers(session, convoy) if p.seat == seat), None)
            if found is not None and found.custody == to.value:
                return {"convoy": convoy.code, "seat": seat, "custody": to.value}, False
            with acting_as(escort_actor(escort), "api"):
                p = hold_or_withdraw(
                    session, convoy.code, seat, to, reason[:200], at=utcnow(),
                    actor=f"escort {escort.badge}",
                    location=str(body.get("location") or "").strip()[:200],
                )  # fmt: skip
            return {"convoy": convoy.code, "seat": p.seat, "custody": p.custody}, True

    async def _post(request: Request, token: str, work: Any) -> Response:
        if per_link.hit(f"field {token[:60]}") is not None:
            return JSONResponse(
                {"error": "Too many reports at once; the page sends the rest in a minute."},
                status_code=429, headers={"Retry-After": "60"},
            )  # fmt: skip
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":  # a form of another site cannot send JSON: no CSRF
            return JSONResponse({"error": "Send the report as the page does (JSON)."}, 415)
        try:
            body = _body(await read_body(request, MAX_BODY))
            answer, created = await run_in_threadpool(work, token, body)
        except BodyTooLarge:
            return JSONResponse({"error": "The report is too large."}, status_code=413)
        except ConvoyOpsError as exc:
            return JSONResponse({"error": str(exc)}, status_code=status_of(exc))
        if created:  # in its own thread: the phone's connection is free for its next report
            threading.Thread(
                target=resume_quietly, args=("convoy", answer["convoy"]), daemon=True
            ).start()
        return JSONResponse(answer, status_code=201 if created else 200)

    @app.post("/field/{token}/checkins", include_in_schema=False)
    async def post_checkin(token: str, request: Request) -> Response:
        return await _post(request, token, checkin)

    @app.post("/field/{token}/holds", include_in_schema=False)
    async def post_hold(token: str, request: Request) -> Response:
        return await _post(request, token, hold)
