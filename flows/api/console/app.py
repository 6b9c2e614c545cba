"""The console app (mounted at ``/console`` on the app ``convoy serve`` serves): sign-in and
sign-out, the coordinators' board, a convoy's page, the alert inbox and starting a convoy's flow.
The upload pages are in ``intake.py``, the managers' view in ``managers.py``."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

from config import Settings
from flows.api.console import sessions
from flows.api.console.guard import (
    Refused,
    SignInNeeded,
    Who,
    login_path,
    need,
    safe_next,
    same_origin,
    who,
    writer,
)
from flows.api.console.render import STATIC, Pages
from flows.api.guard import status_of
from models.db import session_scope, utcnow
from models.errors import (
    AuthenticationError,
    ConvoyOpsError,
    NotFoundError,
    TransitionError,
    ValidationError,
)

SHOW = ("active", "alerts", "late", "closed", "all")


def _status(exc: ConvoyOpsError) -> int:
    """A console refusal's own status, else the API's mapping (``flows.api.guard``)."""
    return exc.status if isinstance(exc, Refused) else status_of(exc, tracker=False)


def _back(path: str, done: str) -> RedirectResponse:
    sep = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{sep}done={done}", status_code=303)


def create_console_app(settings: Settings) -> FastAPI:
    """The console as its own app (its own error pages, headers and static files)."""
    from flows.api.console import intake, managers, permits

    app = FastAPI(title="Convoy Ops console", docs_url=None, redoc_url=None, openapi_url=None)
    pages = Pages(settings)

    def secure(request: Request) -> bool:  # Secure cookies whenever the console is on HTTPS
        return request.url.scheme == "https"

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(ConvoyOpsError)
    async def _error(request: Request, exc: ConvoyOpsError) -> Response:
        if isinstance(exc, SignInNeeded):
            if request.headers.get("hx-request"):  # a part refreshing itself: the whole page goes
                back = request.headers.get("hx-current-url", "")
                path = urlsplit(back).path if back else exc.next_path
                return Response(headers={"HX-Redirect": login_path(exc.code, path)})
            if request.method == "GET":
                return RedirectResponse(login_path(exc.code, exc.next_path), status_code=303)
            return pages.error(401, str(exc))
        return pages.error(_status(exc), str(exc))

    @app.exception_handler(404)
    async def _not_found(request: Request, exc: Exception) -> Response:
        return pages.error(404, "There is no such page in the console.")

    @app.exception_handler(405)
    async def _not_allowed(request: Request, exc: Exception) -> Response:
        return pages.error(405, "This address does not take that kind of request.")

    # --- sign-in ---------------------------------------------------------------------------

    def login_page(
        request: Request, next_path: str, why: str, status: int = 200, error: str = ""
    ) -> Response:
        nonce = secrets.token_urlsafe(16)
        response = pages.render(
            "login.html", status, ctx=None, next=safe_next(next_path), why=why, error=error,
            csrf=sessions.login_csrf(nonce, settings),
        )  # fmt: skip
        response.set_cookie(
            sessions.LOGIN_COOKIE, nonce, max_age=sessions.LOGIN_SECONDS, path=sessions.PATH,
            httponly=True, samesite="strict", secure=secure(request),
        )  # fmt: skip
        return response

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/console/", why: str = "") -> Response:
        return login_page(request, next, why if why in sessions.WHY else "")

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        same_origin(request)
        try:
            form = await request.form(max_files=0, max_fields=10)
        except Exception:
            raise Refused(400, "The sign-in form could not be read.") from None
        next_path = str(form.get("next") or "/console/")
        nonce = request.cookies.get(sessions.LOGIN_COOKIE, "")[:100]
        if not sessions.login_csrf_ok(nonce, str(form.get("csrf") or ""), settings):
            return login_page(request, next_path, "", 403, pages.t("login.stale"))
        token = str(form.get("token") or "")

        def check() -> sessions.Signed:
            with session_scope(settings) as session:
                return sessions.sign_in(session, token, settings)[1]

        try:
            signed = await run_in_threadpool(check)
        except AuthenticationError as exc:
            return login_page(request, next_path, "", 401, str(exc))
        response = RedirectResponse(safe_next(next_path), status_code=303)
        response.set_cookie(
            sessions.COOKIE, sessions.make_cookie(signed, settings),
            expires=sessions.expires_at(signed), path=sessions.PATH, httponly=True,
            samesite="strict", secure=secure(request),
        )  # fmt: skip
        response.delete_cookie(sessions.LOGIN_COOKIE, path=sessions.PATH)
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        try:
            await writer(request, settings, None)
        except Refused as exc:
            if exc.status != 401:
                raise
        response = RedirectResponse("/console/login?why=signedout", status_code=303)
        response.delete_cookie(sessions.COOKIE, path=sessions.PATH)
        return response

    # --- the board ---------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        w = who(request, settings)
        if not w.may("convoy.write"):  # managers land on their view, permit officers on theirs
            home = "/console/overview" if w.may("report.read") else "/console/permits"
            return RedirectResponse(home, status_code=303)
        return board_page(request, w, "board.html")

    @app.get("/board", response_class=HTMLResponse)
    def board_partial(request: Request) -> Response:
        return board_page(request, who(request, settings), "_board.html")

    def board_page(request: Request, w: Who, template: str) -> Response:
        from models.views.console import board, filter_rows

        need(w, "convoy.read")
        q = request.query_params
        show = q.get("show", "active") if q.get("show") in SHOW else "active"
        mode, text = q.get("mode", "")[:10], q.get("q", "")[:60]
        with w.acting(settings) as session:
            rows = board(session)
        shown = filter_rows(rows, text=text, mode=mode, show=show)
        return pages.render(
            template, ctx=w, rows=shown, total=len(rows), show=show, mode_filter=mode, q=text,
            shows=SHOW, now=utcnow(), done=q.get("done", ""),
        )  # fmt: skip

    # --- one convoy -------------------------------------------------------------------------

    @app.get("/convoys/{code}", response_class=HTMLResponse)
    def convoy_page(request: Request, code: str) -> Response:
        from models.convoy.runs import current_run
        from models.intake.roster import seat_roster
        from models.views.console import alert_rows, custody_log, stage_timeline
        from models.views.reports import convoy_status

        w = who(request, settings)
        need(w, "convoy.read")
        with w.acting(settings) as session:
            status = convoy_status(session, code)
            holder = current_run(session, f"convoy:{status['code']}")
            data: dict[str, Any] = {
                "cv": status,
                "timeline": stage_timeline(session, code),
                "roster": seat_roster(session, code),
                "custody_log": custody_log(session, code),
                "alerts": alert_rows(session, include_resolved=True, code=status["code"])
                if w.may("alert.read")
                else [],
                "run_id": holder.flow_run_id if holder else "",
            }
        data["run_url"] = _ui_url(data["run_id"] or _last_run(data["timeline"]))
        return pages.render("convoy.html", ctx=w, done=request.query_params.get("done", ""), **data)

    @app.get("/convoys/{code}/map")
    def convoy_map(request: Request, code: str) -> Response:
        from flows.api.console.maps import fresh_convoy_map

        w = who(request, settings)
        need(w, "map.read")
        with w.acting(settings) as session:
            from models.convoy.store import get_convoy

            code = get_convoy(session, code).code
        return RedirectResponse(fresh_convoy_map(code, settings), status_code=303)

    @app.post("/convoys/{code}/run")
    async def run_convoy(request: Request, code: str) -> Response:
        w, _ = await writer(request, settings, "convoy.write")
        done = await run_in_threadpool(_start, w, code, settings)
        return _back(f"/console/convoys/{quote(code)}", done)

    # --- alerts -----------------------------------------------------------------------------

    @app.get("/alerts", response_class=HTMLResponse)
    def alerts_page(request: Request) -> Response:
        from models.views.console import alert_rows

        w = who(request, settings)
        need(w, "alert.read")
        every = request.query_params.get("all") == "1"
        with w.acting(settings) as session:
            rows = alert_rows(session, include_resolved=every)
        return pages.render(
            "alerts.html", ctx=w, alerts=rows, every=every,
            done=request.query_params.get("done", ""),
        )  # fmt: skip

    @app.post("/alerts/{alert_id}/{verb}")
    async def alert_action(request: Request, alert_id: int, verb: str) -> Response:
        from models.tracking.alerts import lifecycle

        w, form = await writer(request, settings, "alert.write")
        back = safe_next(str(form.get("back") or "/console/alerts"))

        def act() -> str:
            with w.acting(settings) as session:
                if verb == "ack":
                    lifecycle.acknowledge(session, alert_id, w.name, utcnow())
                elif verb == "snooze":
                    minutes = _minutes(form.get("minutes"), settings.alert_snooze_minutes)
                    lifecycle.snooze(session, alert_id, minutes, w.name, utcnow())
                elif verb == "resolve":
                    reason = str(form.get("reason") or "").strip()[:200] or "resolved by hand"
                    lifecycle.resolve(session, alert_id, w.name, reason, utcnow(), settings)
                else:
                    raise NotFoundError(f"An alert cannot be {verb!r}ed here.")
            return f"alert-{verb}"

        return _back(back, await run_in_threadpool(act))

    intake.register(app, settings, pages)
    managers.register(app, settings, pages)
    permits.register(app, settings, pages)
    return app


def _minutes(value: Any, default: float) -> float:
    try:
        return float(str(value)) if value not in (None, "") else default
    except ValueError:
        raise ValidationError("A snooze is a number of minutes.") from None


def _last_run(timeline: list[dict[str, Any]]) -> str:
    ids = [t["flow_run_id"] for t in timeline if t["flow_run_id"]]
    return ids[-1] if ids else ""


def _ui_url(run_id: str) -> str:
    """The flow run's page in the Prefect UI, when a Prefect server is configured."""
    from flows.service import live

    if not run_id or not live.server_url():
        return ""
    return live.ui_url(run_id)


def _start(w: Who, code: str, settings: Settings) -> str:
    """Start or attach to the convoy's one flow run, as ``convoy run`` does when served."""
    from flows.service import live
    from models.convoy.store import get_convoy

    with w.acting(settings) as session:
        get_convoy(session, code)
    if not live.deployment_served("convoy"):
        raise TransitionError(
            "No convoy deployment is served (is convoy serve running with its Prefect server?); "
            f"start it, or run 'convoy run {code}' on the operations machine."
        )
    info = live.start_run("convoy", code, {"code": code}, [f"by:{w.name}"])
    return "run-attached" if info.attached else "run-started"
