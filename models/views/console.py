"""What the coordinators' console and the managers' view show, already masked: one row per convoy
for the board (sorted by urgency), and one convoy's timeline, roster, custody log and alerts.

Every function checks the current actor's right (``models.access.users.require``) before it reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from models.access.users import require
from models.convoy.lifecycle import Stage
from models.convoy.store import get_convoy, list_convoys
from models.convoy.tables import CheckIn, Convoy, CustodyEvent, Escort, Passenger, StageRun
from models.db import utcnow
from models.intake.identity import mask_name
from models.tracking.alerts.tables import Alert, AlertState
from models.tracking.tables import TrackState

# Custody states counted on the board: who ever boarded, and where everyone is now.
BOARD_COUNTS = ("boarded", "held", "withdrawn", "handed_off")


@dataclass
class BoardRow:
    """One convoy on the coordinators' board (no personal data)."""

    code: str
    mode: str
    origin: str
    destination: str
    stage: str
    campaign_id: int | None
    passengers: int
    counts: dict[str, int]
    planned_departure: datetime
    planned_arrival: datetime
    eta: datetime | None  # actual arrival once arrived, else the tracked ETA
    late_minutes: int | None  # positive: late (departure not made, or arrival/ETA after plan)
    open_alerts: int = 0
    unacknowledged: int = 0
    alert_kinds: list[str] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.stage == Stage.CLOSED.value

    def urgency(self) -> tuple[int, int, int, int, float]:
        """Sort key, most urgent first: unacknowledged alerts, open alerts, lateness, then the
        earliest planned departure; closed convoys last."""
        late = self.late_minutes or 0
        return (
            1 if self.closed else 0,
            -self.unacknowledged,
            -self.open_alerts,
            -max(late, 0),
            self.planned_departure.timestamp(),
        )


def _lateness(
    cv: Convoy, state: TrackState | None, now: datetime
) -> tuple[datetime | None, int | None]:
    if cv.actual_arrival is not None:
        return cv.actual_arrival, round(
            (cv.actual_arrival - cv.planned_arrival).total_seconds() / 60
        )
    if cv.actual_departure is None and cv.stage != Stage.CLOSED.value:
        late = round((now - cv.planned_departure).total_seconds() / 60)
        eta = state.eta if state is not None else None
        return eta, late if late > 0 else None
    if state is not None:
        return state.eta, round((state.eta - cv.planned_arrival).total_seconds() / 60)
    if now > cv.planned_arrival:  # under way, no position, and past the planned arrival
        return None, round((now - cv.planned_arrival).total_seconds() / 60)
    return None, None


def board(session: Session, now: datetime | None = None) -> list[BoardRow]:
    """Every convoy with its counts, times and open alerts, most urgent first."""
    require(session, "convoy.read")
    now = now or utcnow()
    convoys = list_convoys(session)
    ids = [c.id for c in convoys]
    states = {
        s.convoy_id: s
        for s in session.execute(
            select(TrackState).where(col(TrackState.convoy_id).in_(ids))
        ).scalars()
    }
    now_rows = session.execute(
        select(col(Passenger.convoy_id), col(Passenger.custody), func.count()).group_by(
            col(Passenger.convoy_id), col(Passenger.custody)
        )
    ).all()
    current: dict[int, dict[str, int]] = {}
    for cid, custody, n in now_rows:
        current.setdefault(cid, {})[custody] = int(n)
    boarded = dict(
        session.execute(
            select(col(CustodyEvent.convoy_id), func.count())
            .where(col(CustodyEvent.to_state) == "boarded")
            .group_by(col(CustodyEvent.convoy_id))
        ).all()
    )
    alerts: dict[int, list[Alert]] = {}
    for a in session.execute(
        select(Alert).where(col(Alert.state) != AlertState.RESOLVED.value)
    ).scalars():
        alerts.setdefault(a.convoy_id, []).append(a)
    rows = []
    for cv in convoys:
        cid = cv.id or 0
        here = current.get(cid, {})
        eta, late = _lateness(cv, states.get(cid), now)
        mine = alerts.get(cid, [])
        rows.append(
            BoardRow(
                code=cv.code,
                mode=cv.mode,
                origin=cv.origin_name,
                destination=cv.destination_name,
                stage=cv.stage,
                campaign_id=cv.campaign_id,
                passengers=sum(here.values()),
                counts={
                    "boarded": int(boarded.get(cid, 0)),
                    "held": here.get("held", 0),
                    "withdrawn": here.get("withdrawn", 0),
                    "handed_off": here.get("handed_off", 0),
                },
                planned_departure=cv.planned_departure,
                planned_arrival=cv.planned_arrival,
                eta=eta,
                late_minutes=late,
                open_alerts=len(mine),
                unacknowledged=sum(a.state == AlertState.OPEN.value for a in mine),
                alert_kinds=sorted({a.kind for a in mine}),
            )
        )
    return sorted(rows, key=BoardRow.urgency)


def filter_rows(
    rows: list[BoardRow], *, text: str = "", mode: str = "", show: str = "active"
) -> list[BoardRow]:
    """The board narrowed: ``text`` in the code or route, one ``mode``, and ``show`` one of
    ``active`` (not closed), ``alerts`` (with open alerts), ``late``, ``closed`` or ``all``."""
    text = text.strip().lower()
    out = []
    for r in rows:
        if text and text not in f"{r.code} {r.origin} {r.destination}".lower():
            continue
        if mode and r.mode != mode:
            continue
        if show == "active" and r.closed:
            continue
        if show == "alerts" and not r.open_alerts:
            continue
        if show == "late" and not (r.late_minutes and r.late_minutes > 0):
            continue
        if show == "closed" and not r.closed:
            continue
        out.append(r)
    return out


def stage_timeline(session: Session, code: str) -> list[dict[str, Any]]:
    """Each stage done: when (field time), recorded when, who (the audit's actor of the stage,
    or the escort whose check-in fed it), its flow run and its counts."""
    from models.access.audit import AuditEvent
    from models.convoy.operations import WAITS_FOR

    require(session, "convoy.read")
    convoy = get_convoy(session, code)
    runs = list(
        session.execute(
            select(StageRun).where(col(StageRun.convoy_id) == convoy.id).order_by(col(StageRun.id))
        ).scalars()
    )
    actors = {
        action.removeprefix("convoy."): actor
        for action, actor in session.execute(
            select(col(AuditEvent.action), col(AuditEvent.actor))
            .where(
                col(AuditEvent.convoy_id) == convoy.id,
                col(AuditEvent.action).startswith("convoy."),
            )
            .order_by(col(AuditEvent.id))
        ).all()
    }
    checkins: dict[str, tuple[str, str]] = {}
    for ck, escort in session.execute(
        select(CheckIn, Escort)
        .outerjoin(Escort, col(Escort.id) == CheckIn.escort_id)
        .where(col(CheckIn.convoy_id) == convoy.id)
        .order_by(col(CheckIn.id))
    ).all():
        checkins[ck.kind] = (escort.name if escort else "", ck.source)
    out = []
    for r in runs:
        kind = WAITS_FOR.get(Stage(r.stage))
        escort, source = checkins.get(kind.value, ("", "")) if kind else ("", "")
        out.append(
            {
                "stage": r.stage,
                "at": r.at,
                "recorded_at": r.recorded_at,
                "by": actors.get(r.stage, ""),
                "reported_by": f"{escort} ({source})" if escort else source,
                "flow_run_id": r.flow_run_id,
                "summary": {
                    k: v for k, v in (r.summary or {}).items() if isinstance(v, int | float)
                },
            }
        )
    return out


def custody_log(session: Session, code: str, limit: int = 200) -> list[dict[str, Any]]:
    """The newest custody events of a convoy (seat and masked name; reasons and places)."""
    require(session, "convoy.read")
    convoy = get_convoy(session, code)
    rows = session.execute(
        select(CustodyEvent, col(Passenger.seat), col(Passenger.name))
        .join(Passenger, col(Passenger.id) == CustodyEvent.passenger_id)
        .where(col(CustodyEvent.convoy_id) == convoy.id)
        .order_by(col(CustodyEvent.id).desc())
        .limit(limit)
    ).all()
    return [
        {
            "at": e.at,
            "seat": seat,
            "name": mask_name(name),
            "from": e.from_state,
            "to": e.to_state,
            "stage": e.stage,
            "reason": e.reason,
            "location": e.location,
            "actor": e.actor,
        }
        for e, seat, name in rows
    ]


def alert_rows(
    session: Session, *, include_resolved: bool = False, code: str | None = None
) -> list[dict[str, Any]]:
    """Alerts (open and acknowledged first, then the newest), with their convoy."""
    from models.tracking.alerts.lifecycle import list_alerts

    require(session, "alert.read")
    rows = list_alerts(session, include_resolved, code)
    order = {AlertState.OPEN.value: 0, AlertState.ACKNOWLEDGED.value: 1}
    rows.sort(key=lambda ac: (order.get(ac[0].state, 2), -(ac[0].id or 0)))
    return [
        {
            "id": a.id,
            "convoy": c.code,
            "kind": a.kind,
            "state": a.state,
            "summary": a.summary,
            "opened_at": a.opened_at,
            "last_seen_at": a.last_seen_at,
            "acknowledged_by": a.acknowledged_by,
            "acknowledged_at": a.acknowledged_at,
            "snoozed_until": a.snoozed_until,
            "escalation_level": a.escalation_level,
            "resolved_at": a.resolved_at,
            "resolved_by": a.resolved_by,
            "resolve_reason": a.resolve_reason,
        }
        for a, c in rows
    ]
