"""The managers' view (read only): the campaign figures, the operations overview map, the report
per convoy and the open alerts. Coordinators see it too; nothing on it writes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlmodel import col

from config import Settings
from flows.api.console.guard import need, who
from flows.api.console.render import Pages
from models.convoy.tables import Campaign


def register(app: FastAPI, settings: Settings, pages: Pages) -> None:
    def campaigns(session: Any) -> list[str]:
        return list(
            session.execute(select(col(Campaign.name)).order_by(col(Campaign.id))).scalars()
        )

    @app.get("/overview", response_class=HTMLResponse)
    def overview(request: Request) -> Response:
        from models.views.console import alert_rows, board
        from models.views.reports import campaign_figures

        w = who(request, settings)
        need(w, "report.read")
        with w.acting(settings) as session:
            names = campaigns(session)
            chosen = request.query_params.get("campaign", "")
            campaign = chosen if chosen in names else (names[0] if names else None)
            figures = campaign_figures(session, campaign)
            ids = {
                c.id
                for c in session.execute(
                    select(Campaign).where(col(Campaign.name) == campaign)
                ).scalars()
            }
            rows = [r for r in board(session) if campaign is None or r.campaign_id in ids]
            alerts = alert_rows(session) if w.may("alert.read") else []
        return pages.render(
            "overview.html", ctx=w, figures=figures, campaigns=names, campaign=campaign,
            rows=rows, alerts=alerts, map_ok=w.may("map.read") and campaign is not None,
        )  # fmt: skip

    @app.get("/overview/map")
    def overview_map(request: Request, campaign: str) -> Response:
        from flows.api.console.maps import fresh_campaign_map
        from models.convoy.store import get_campaign

        w = who(request, settings)
        need(w, "map.read")
        with w.acting(settings) as session:
            name = get_campaign(session, campaign).name
        return RedirectResponse(fresh_campaign_map(name, settings), status_code=303)
