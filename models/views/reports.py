"""Figures for people: per-convoy summaries and campaign totals, computed from the data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from models.convoy.checkins import latest
from models.convoy.custody import censuses
from models.convoy.lifecycle import Stage, next_stage
from models.convoy.store import convoy_escorts, get_convoy, list_convoys
from models.convoy.tables import Convoy, Position
from models.db import session_rows
from models.desk.figures import desk_figures
from models.views.summaries import convoy_summaries, stage_details


def track(session: Session, convoy: Convoy) -> list[Position]:
    return list(
        session.execute(
            select(Position).where(col(Position.convoy_id) == convoy.id).order_by(col(Position.at))
        ).scalars()
    )


def convoy_summary(session: Session, code: str) -> dict[str, Any]:
    """Counts and times of one convoy (no personal data; ``models.views.summaries``)."""
    return convoy_summaries(session_rows(session), code=code)[0]


def convoy_status(session: Session, code: str) -> dict[str, Any]:
    """Stage, the next step and the check-in it waits for, custody counts and completed stages
    (no personal data)."""
    s = convoy_summary(session, code)
    stage = Stage(s["stage"])
    following = None if stage is Stage.CLOSED else next_stage(stage)
    from models.convoy.operations import WAITS_FOR  # only here: listing convoys starts quicker

    waits = WAITS_FOR.get(following) if following is not None else None
    received = False
    if waits is not None:
        received = latest(session, get_convoy(session, code), waits) is not None
    return {
        **s,
        "next_step": following.value if following else None,
        "waiting_for": waits.value if waits else None,
        "checkin_received": received,
    }


def summary_markdown(s: dict[str, Any]) -> str:
    late = "" if s["late_minutes"] is None else f" ({s['late_minutes']:+d} min)"
    return "\n".join(
        [
            f"# Convoy {s['code']} ({s['mode']} {s['vehicle']})",
            f"{s['origin']} → {s['destination']}; stage **{s['stage']}**",
            "",
            "| passengers | handed off | held | withdrawn | in custody |",
            "|---:|---:|---:|---:|---:|",
            f"| {s['passengers']} | {s['handed_off']} | {s['held']} | {s['withdrawn']} "
            f"| {s['in_custody']} |",
            "",
            f"Planned arrival {s['planned_arrival']}, actual {s['actual_arrival'] or '—'}{late}.",
            *_stage_table(s["stages"]),
        ]
    )


def _stage_table(stages: list[dict[str, Any]]) -> list[str]:
    """The completed stages as a markdown table: when, and what each counted."""
    if not stages:
        return []
    lines = ["", "| stage | at | details |", "|---|---|---|"]
    for st in stages:
        lines.append(f"| {st['label']} | {st['at']} | {stage_details(st)} |")
    return lines


def campaign_figures(session: Session, campaign: str | None = None) -> dict[str, Any]:
    """The figures a manager reports, computed from the data (never typed in)."""
    from models.permits.stats import permit_figures  # only here: listing convoys starts quicker

    convoys = list_convoys(session, campaign)
    officers: set[int] = set()
    provinces: set[str] = set()
    places: set[str] = set()
    totals = {"passengers": 0, "handed_off": 0, "held": 0, "withdrawn": 0, "in_custody": 0}
    by_mode: dict[str, int] = {}
    counts = censuses(session, [cv.id or 0 for cv in convoys])
    for cv in convoys:
        for escort, _role in convoy_escorts(session, cv):
            officers.add(escort.id or 0)
        if cv.origin_adcode:
            provinces.add(cv.origin_adcode[:2])
        places.add(cv.origin_name)
        by_mode[cv.mode] = by_mode.get(cv.mode, 0) + 1
        c = counts[cv.id or 0]
        totals["passengers"] += c.total
        totals["handed_off"] += c.handed_off
        totals["held"] += c.held
        totals["withdrawn"] += c.withdrawn
        totals["in_custody"] += c.in_custody
    return {
        "campaign": campaign or "(all)",
        "trips": len(convoys),
        "trips_by_mode": by_mode,
        "officers_sent": len(officers),
        "provinces": len(provinces),
        "origin_places": len(places),
        "workers_escorted": totals["handed_off"],
        **totals,
        # Vehicle passes (通行证) linked to the campaign (all passes without a campaign name).
        **permit_figures(session, campaign),
        "desk": desk_figures(session, campaign),  # the enterprise service desk (issue 16)
    }
