"""One monitor check (the tick): fold in new positions, open, refresh, resolve and escalate
alerts of every active convoy, announce arrivals; what changed is reported for Prefect events.

``checking`` is the check as the delay monitor and a simulated campaign make it: the new
positions folded into the track states in a transaction of their own, then ``run_checks`` in a
second one, which only reads until it opens or changes an alert (SQLite's one writer is taken at
a transaction's first write and held until it commits).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlmodel import Session, col

from config import Settings, get_settings
from models.convoy.lifecycle import STAGES, Stage
from models.convoy.tables import Convoy
from models.db import session_scope, utcnow
from models.errors import ValidationError
from models.tracking.alerts.detection import Snapshot, TrackView, detect
from models.tracking.alerts.lifecycle import (
    escalate_alert,
    next_escalation_at,
    open_alert,
    resolve_alert,
)
from models.tracking.alerts.tables import Alert, AlertKind, AlertState, Announcement
from models.tracking.eta import (
    Router,
    SpeedProfile,
    Thresholds,
    planned_eta,
    speed_profile,
    thresholds,
)
from models.tracking.ingest import catch_up
from models.tracking.tables import TrackState

# Prefect event names (``flows.service.monitor`` emits them).
EVENT_NAMES: dict[AlertKind, str] = {
    AlertKind.LATE_DEPARTURE: "convoy.late-departure",
    AlertKind.LATE_ARRIVAL: "convoy.delayed",
    AlertKind.STALE_POSITION: "convoy.position-stale",
    AlertKind.OFF_ROUTE: "convoy.off-route",
    AlertKind.STOPPED: "convoy.stopped",
}

_ARRIVED = STAGES.index(Stage.ARRIVED)
_ACTIVE = [s.value for s in STAGES[:_ARRIVED]]
_DONE = [s.value for s in STAGES[_ARRIVED:]]


@dataclass(frozen=True, slots=True)
class Change:
    """Something the monitor did, for Prefect events and logs."""

    action: str  # opened, escalated, resolved, arrived
    code: str
    kind: str
    alert_id: int | None
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def event(self) -> str:
        if self.action == "opened":
            return EVENT_NAMES[AlertKind(self.kind)]
        if self.action == "arrived":
            return "convoy.arrived"
        return f"convoy.alert.{self.action}"


@dataclass
class TickReport:
    checked: int = 0
    refreshed: int = 0
    changes: list[Change] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)


@contextmanager
def checking(
    now: datetime,
    settings: Settings | None = None,
    router: Router | None = None,
    convoy_ids: Collection[int] | None = None,
) -> Iterator[tuple[Session, TickReport]]:
    """The delay monitor's check at ``now`` (see the module doc): positions folded first, in a
    transaction of their own, then ``run_checks``; yields the check's session and report, so
    that what the caller does with the changes (the service desk's check, an acknowledgement)
    is part of the check's transaction."""
    settings = settings or get_settings()
    with session_scope(settings) as session:
        refreshed = catch_up(session, settings=settings, router=router)
    with session_scope(settings) as session:
        report = run_checks(session, now, settings, router, convoy_ids, fold=False)
        report.refreshed = refreshed
        yield session, report


def run_checks(
    session: Session,
    now: datetime | None = None,
    settings: Settings | None = None,
    router: Router | None = None,
    convoy_ids: Collection[int] | None = None,
    *,
    fold: bool = True,
) -> TickReport:
    """One check of every active convoy at ``now``: fold in new positions, open, refresh and
    resolve alerts, escalate unacknowledged ones, announce arrivals. One transaction.

    ``convoy_ids`` limits the check to those convoys (a simulation checks each convoy at its
    own field time); positions of every convoy are folded in all the same. ``fold=False``: the
    caller has just folded them (``checking``)."""
    now = now or utcnow()
    if now.tzinfo is None:
        raise ValidationError("The monitor's clock must be timezone-aware.")
    settings = settings or get_settings()
    rules = settings.rule_set
    report = TickReport()
    if fold:
        report.refreshed = catch_up(session, settings=settings, router=router)
    q = _queries(convoy_ids is not None)
    only = {"only_ids": list(convoy_ids)} if convoy_ids is not None else {}
    convoys = session.execute(q.convoys, only).all()
    open_alerts: dict[int, list[Alert]] = defaultdict(list)
    for a in session.execute(q.open_alerts, only).scalars():
        open_alerts[a.convoy_id].append(a)
    th_cache: dict[str, Thresholds] = {}
    prof_cache: dict[str, SpeedProfile] = {}
    trules = rules.tracking
    # Convoys without a track need their planned route: load them in one query, not one each.
    orm: dict[int, Convoy] = {cv.id: cv for cv in session.execute(q.untracked, only).scalars()}  # type: ignore[misc]

    def convoy_obj(cid: int) -> Convoy:
        if cid not in orm:
            found = session.get(Convoy, cid)
            assert found is not None
            orm[cid] = found
        return orm[cid]

    for row in convoys:
        report.checked += 1
        if row.mode not in th_cache:
            th_cache[row.mode] = thresholds(rules, row.mode)
            prof_cache[row.mode] = speed_profile(rules, row.mode)
        th, prof = th_cache[row.mode], prof_cache[row.mode]
        track = None
        full_min = 0.0
        if row.last_fix_at is not None:
            track = TrackView(
                row.last_fix_at, row.lat, row.lon, row.off_route_km, row.remaining_km,
                row.remaining_min, row.eta, row.still_since,
            )  # fmt: skip
        else:
            eta0 = planned_eta(convoy_obj(row.id).route(), prof, row.planned_departure)
            full_min = (eta0 - row.planned_departure).total_seconds() / 60.0
        snap = Snapshot(
            row.id, row.code, row.mode, row.stage, row.planned_departure, row.planned_arrival,
            row.actual_departure, full_min, track,
        )  # fmt: skip
        existing = {a.kind: a for a in open_alerts.pop(row.id, [])}
        conditions = {cond.kind.value: cond for cond in detect(snap, now, th, trules, existing)}
        for kind, cond in conditions.items():
            alert = existing.get(kind)
            if alert is None:
                alert = open_alert(session, convoy_obj(row.id), cond, now, settings, th)
                report.changes.append(
                    Change("opened", row.code, kind, alert.id, now, dict(cond.details))
                )
            else:
                alert.last_seen_at = now
                alert.details = dict(cond.details)
                session.add(alert)
        for kind, alert in existing.items():
            if kind not in conditions:
                resolve_alert(
                    session, alert, convoy_obj(row.id), now, "monitor", "condition cleared",
                    settings,
                )  # fmt: skip
                report.changes.append(Change("resolved", row.code, kind, alert.id, now))
            elif (due := next_escalation_at(alert, settings)) is not None and now >= due:
                escalate_alert(session, alert, convoy_obj(row.id), now, settings)
                report.changes.append(
                    Change("escalated", row.code, kind, alert.id, now, {
                        "level": alert.escalation_level})
                )  # fmt: skip
    # Alerts of convoys no longer under way (arrived, closed): resolved by the arrival.
    for cid, alerts in open_alerts.items():
        convoy = convoy_obj(cid)
        for alert in alerts:
            resolve_alert(
                session, alert, convoy, now, "monitor", f"convoy {convoy.stage}", settings
            )
            report.changes.append(Change("resolved", convoy.code, alert.kind, alert.id, now))
    _announce_arrivals(session, now, report, q, only)
    session.flush()
    return report


@dataclass(frozen=True)
class _Queries:
    convoys: Any
    open_alerts: Any
    untracked: Any
    arrivals: Any


@lru_cache(maxsize=2)
def _queries(limited: bool) -> _Queries:
    """The check's queries, built once (a simulated campaign checks one convoy after each few
    position reports: building and keying the statements each time cost more than running
    them). ``limited``: to the convoys of the ``only_ids`` parameter."""
    c = Convoy.__table__.c  # type: ignore[attr-defined]
    t = TrackState.__table__.c  # type: ignore[attr-defined]

    def only(column: Any) -> list[Any]:
        return [column.in_(bindparam("only_ids", expanding=True))] if limited else []

    # One plain query (no ORM objects): every active convoy with its track state, if any.
    convoys = (
        select(
            c.id, c.code, c.mode, c.stage, c.planned_departure, c.planned_arrival,
            c.actual_departure, t.last_fix_at, t.lat, t.lon, t.off_route_km, t.remaining_km,
            t.remaining_min, t.eta, t.still_since,
        )
        .select_from(Convoy.__table__.outerjoin(TrackState.__table__, t.convoy_id == c.id))  # type: ignore[attr-defined]
        .where(c.stage.in_(_ACTIVE), *only(c.id))
        .order_by(c.id)  # the same order of changes and notifications on every database
    )  # fmt: skip
    open_alerts = (
        select(Alert)
        .where(Alert.state != AlertState.RESOLVED.value, *only(col(Alert.convoy_id)))  # type: ignore[arg-type]
        .order_by(Alert.id)  # type: ignore[arg-type]
    )
    untracked = (
        select(Convoy)
        .outerjoin(TrackState, col(TrackState.convoy_id) == col(Convoy.id))
        .where(
            col(Convoy.stage).in_(_ACTIVE),
            col(TrackState.convoy_id).is_(None),
            *only(col(Convoy.id)),
        )
    )
    done = select(Announcement.convoy_id).where(Announcement.name == "arrived")  # type: ignore[call-overload]
    arrivals = (
        select(c.id, c.code, c.actual_arrival, c.planned_arrival)
        .where(
            c.stage.in_(_DONE),
            c.actual_arrival.is_not(None),
            c.id.not_in(done),
            *only(c.id),
        )
        .order_by(c.id)
    )
    return _Queries(convoys, open_alerts, untracked, arrivals)


def _announce_arrivals(
    session: Session, now: datetime, report: TickReport, q: _Queries, only: dict[str, Any]
) -> None:
    rows = session.execute(q.arrivals, only).all()
    for cid, code, actual, planned in rows:
        session.add(Announcement(convoy_id=cid, name="arrived", at=now))
        late = round((actual - planned).total_seconds() / 60)
        report.changes.append(
            Change("arrived", code, "arrived", None, actual, {"late_minutes": late})
        )
