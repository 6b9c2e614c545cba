"""The permit officer's pages: the vehicle-pass applications with the same-day clock, each
application's history and route map, and the steps (survey, route, issue, deliver, reject) —
the same functions as ``convoy permit …``, audited as the signed-in officer. Others who may see
applications (coordinators, managers) get the pages without the steps."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from config import Settings
from flows.api.console.guard import need, who, writer
from flows.api.console.render import Pages
from flows.api.files import signed_file_path
from flows.service.live import resume_quietly
from models.db import utcnow
from models.errors import NotFoundError, ValidationError

STEPS = ("survey", "route", "issue", "deliver", "reject")


def _vias(text: str) -> list[Any]:
    """Waypoints, one a line (or separated by ；/;): a place name, or ``LAT,LON`` (WGS-84)."""
    from models.permits.lifecycle import Via

    out: list[Any] = []
    for raw in text.replace("；", "\n").replace(";", "\n").splitlines():
        item = raw.strip()
        if not item:
            continue
        parts = item.replace("，", ",").split(",")
        if len(parts) == 2:
            try:
                out.append(Via(lat=float(parts[0]), lon=float(parts[1])))
                continue
            except ValueError:
                pass
        out.append(Via(name=item[:100]))
    return out[:30]


def register(app: FastAPI, settings: Settings, pages: Pages) -> None:
    @app.get("/permits", response_class=HTMLResponse)
    def permit_list(request: Request) -> Response:
        from models.permits.queries import list_applications
        from models.permits.records import permit_record
        from models.permits.stats import same_day_stats

        w = who(request, settings)
        need(w, "permit.read")
        now = utcnow()
        with w.acting(settings) as session:
            records = [
                permit_record(session, a, now=now, settings=settings)
                for a in list_applications(session)
            ]
            stats = same_day_stats(session, now=now, settings=settings)
        clock = {e["number"]: e["hours_left"] for e in stats.at_risk}
        overdue = {e["number"] for e in stats.overdue}
        records.sort(
            key=lambda r: (r["number"] not in clock and r["number"] not in overdue, r["id"])
        )
        return pages.render(
            "permits.html", ctx=w, records=records, stats=stats, clock=clock, overdue=overdue,
            done=request.query_params.get("done", ""),
        )  # fmt: skip

    @app.get("/permits/{number}", response_class=HTMLResponse)
    def permit_page(request: Request, number: str) -> Response:
        from models.permits.queries import get_application
        from models.permits.records import permit_record

        w = who(request, settings)
        need(w, "permit.read")
        with w.acting(settings) as session:
            record = permit_record(
                session, get_application(session, number), events=True, settings=settings
            )
        return pages.render(
            "permit.html", ctx=w, r=record, done=request.query_params.get("done", "")
        )

    @app.get("/permits/{number}/map")
    def permit_map(request: Request, number: str) -> Response:
        from flows.permits import save_permit_map
        from models.permits.queries import get_application

        w = who(request, settings)
        need(w, "map.read")
        with w.acting(settings) as session:
            found = get_application(session, number).number
        path = save_permit_map(found)
        link = signed_file_path(f"permits/{quote(path.name)}", settings, days=1.0)
        return RedirectResponse(link, status_code=303)

    @app.post("/permits/{number}/{step}")
    async def permit_step(request: Request, number: str, step: str) -> Response:
        from models.permits import lifecycle
        from models.permits.queries import get_application

        w, form = await writer(request, settings, "permit.write")
        if step not in STEPS:
            raise NotFoundError(f"{step!r} is not a vehicle-pass step ({', '.join(STEPS)}).")
        note = str(form.get("note") or "").strip()[:500]

        def act() -> str:
            with w.acting(settings) as session:
                found = get_application(session, number).number
                if step == "survey":
                    ok = form.get("verdict") != "reject"
                    lifecycle.survey_site(session, found, ok=ok, note=note, actor=w.name)
                elif step == "route":
                    vias = _vias(str(form.get("vias") or ""))
                    if not vias:
                        raise ValidationError(
                            "Give at least one waypoint (where the truck starts)."
                        )
                    lifecycle.plan_route(
                        session, found, vias, note=note, actor=w.name, settings=settings
                    )
                elif step == "issue":
                    lifecycle.issue_permit(session, found, actor=w.name)
                elif step == "deliver":
                    to = str(form.get("to") or "")[:100]
                    lifecycle.deliver_permit(session, found, to=to, actor=w.name)
                else:
                    lifecycle.reject_application(session, found, note, actor=w.name)
            resume_quietly("permit", found)
            return found

        found = await run_in_threadpool(act)
        back = (
            "/console/permits" if form.get("back") == "list" else f"/console/permits/{quote(found)}"
        )
        return RedirectResponse(f"{back}?done=permit-{step}", status_code=303)
