"""Delay alerts: detection (pure functions), the alert lifecycle and one monitor check.

Detection looks at one convoy at one instant and names the conditions that hold:

* ``late_departure`` - not departed ``late_departure_min`` after the planned departure;
* ``late_arrival`` - the ETA is later than the planned arrival by more than ``late_arrival_min``
  (Prefect event ``convoy.delayed``);
* ``stale_position`` - under way and no fresh position for ``stale_position_min``;
* ``off_route`` - the newest fresh position is further than ``corridor_km`` from the planned
  route (a polyline with a width); it clears inside ``off_route_clear_ratio`` of the corridor;
* ``stopped`` - fresh positions show no movement beyond ``stop_radius_km`` for ``stopped_min``
  (not near the destination).

Only fixes fresh at the monitor's clock are judged, so a replayed old track never raises an
alert. **Lifecycle**: open → acknowledged → resolved. One alert per condition per convoy until
it is resolved (a unique key enforces it); it resolves itself when the condition clears or the
convoy arrives; nobody acknowledging it within the escalation time escalates it to the
coordinator; a snooze holds the escalation until it ends. Every change is recorded in
``alert_event`` and queued in the outbox in the same transaction.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, select
from sqlmodel import Field, Session, SQLModel, col

from config import Settings, get_settings
from models.convoy.lifecycle import STAGES, Stage
from models.convoy.tables import Assignment, Convoy, Escort
from models.db import UTCDateTime, insert_ignore, utcnow
from models.errors import MonitorBusyError, NotFoundError, TransitionError, ValidationError
from models.notify.messages import MODE_LABELS, kind_label, render
from models.notify.outbox import Recipient, enqueue, escort_recipients, role_recipients
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


class AlertKind(StrEnum):
    LATE_DEPARTURE = "late_departure"
    LATE_ARRIVAL = "late_arrival"
    STALE_POSITION = "stale_position"
    OFF_ROUTE = "off_route"
    STOPPED = "stopped"


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


# Prefect event names (``flows.service.monitor`` emits them).
EVENT_NAMES: dict[AlertKind, str] = {
    AlertKind.LATE_DEPARTURE: "convoy.late-departure",
    AlertKind.LATE_ARRIVAL: "convoy.delayed",
    AlertKind.STALE_POSITION: "convoy.position-stale",
    AlertKind.OFF_ROUTE: "convoy.off-route",
    AlertKind.STOPPED: "convoy.stopped",
}

_DEPARTED = STAGES.index(Stage.DEPARTED)
_ARRIVED = STAGES.index(Stage.ARRIVED)


# --- tables -----------------------------------------------------------------------------------


class Alert(SQLModel, table=True):
    """One condition of one convoy, from when it was seen until it is resolved."""

    id: int | None = Field(default=None, primary_key=True)
    convoy_id: int = Field(foreign_key="convoy.id", index=True)
    kind: str = Field(index=True)
    state: str = Field(default=AlertState.OPEN.value, index=True)
    # "convoy_id:kind" while unresolved, NULL after: at most one unresolved alert per condition.
    active_key: str | None = Field(default=None, unique=True)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: str = ""
    snoozed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalation_level: int = 0
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_by: str = ""
    resolve_reason: str = ""
    summary: str = ""
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class AlertEvent(SQLModel, table=True):
    """Append-only history of an alert: opened, acknowledged, snoozed, escalated, resolved."""

    __tablename__ = "alert_event"
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    action: str
    actor: str = ""
    note: str = ""


class MonitorLease(SQLModel, table=True):
    """Who runs the delay monitor on this database (one scheduler per job store)."""

    __tablename__ = "monitor_lease"
    name: str = Field(primary_key=True)
    holder: str
    started_at: datetime = Field(sa_type=UTCDateTime)
    heartbeat_at: datetime = Field(sa_type=UTCDateTime)


class Announcement(SQLModel, table=True):
    """A once-only convoy event already announced (e.g. ``convoy.arrived``)."""

    __tablename__ = "announcement"
    convoy_id: int = Field(foreign_key="convoy.id", primary_key=True)
    name: str = Field(primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)


# --- detection (pure) -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrackView:
    """What the monitor knows of a convoy's track (from ``TrackState``)."""

    last_fix_at: datetime
    lat: float
    lon: float
    off_route_km: float
    remaining_km: float
    remaining_min: float
    eta: datetime
    still_since: datetime


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One convoy as the monitor sees it at one instant."""

    convoy_id: int
    code: str
    mode: str
    stage: str
    planned_departure: datetime
    planned_arrival: datetime
    actual_departure: datetime | None
    full_route_min: float  # travel time of the whole route by the speed profile
    track: TrackView | None = None


@dataclass(frozen=True, slots=True)
class TrackingRules:
    stop_radius_km: float = 0.5
    arrival_radius_km: float = 3.0
    off_route_clear_ratio: float = 0.8

    @classmethod
    def from_rules(cls, rules: Mapping[str, Any]) -> TrackingRules:
        t = rules.get("tracking", {})
        return cls(
            float(t.get("stop_radius_km", 0.5)),
            float(t.get("arrival_radius_km", 3.0)),
            float(t.get("off_route_clear_ratio", 0.8)),
        )


@dataclass(frozen=True, slots=True)
class Condition:
    kind: AlertKind
    details: dict[str, Any] = field(default_factory=dict)


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def is_fresh(track: TrackView | None, now: datetime, th: Thresholds) -> bool:
    """Whether the newest fix is recent enough at ``now`` to be judged."""
    return track is not None and now - track.last_fix_at <= timedelta(minutes=th.stale_position_min)


def expected_arrival(s: Snapshot, now: datetime, th: Thresholds) -> datetime:
    """The ETA the monitor believes: computed at a fresh fix; else as if the convoy had not
    moved since its last fix (or its departure) and set off again now."""
    if s.track is not None and is_fresh(s.track, now, th):
        return s.track.eta
    if s.track is not None:
        return now + timedelta(minutes=s.track.remaining_min)
    start = s.actual_departure or s.planned_departure
    return max(now, start) + timedelta(minutes=s.full_route_min)


def detect(
    s: Snapshot,
    now: datetime,
    th: Thresholds,
    rules: TrackingRules = TrackingRules(),
    open_kinds: Iterable[str] = (),
) -> list[Condition]:
    """The alert conditions that hold for ``s`` at ``now`` (``open_kinds``: alerts already
    open, for hysteresis)."""
    try:
        at = STAGES.index(Stage(s.stage))
    except ValueError:
        return []
    if at >= _ARRIVED:
        return []
    found: list[Condition] = []
    if at < _DEPARTED:
        late = now - s.planned_departure
        if late > timedelta(minutes=th.late_departure_min):
            found.append(Condition(AlertKind.LATE_DEPARTURE, {"minutes": _minutes(late)}))
        return found
    track = s.track
    fresh = is_fresh(track, now, th)
    # No fresh position.
    if not fresh:
        since = track.last_fix_at if track else (s.actual_departure or s.planned_departure)
        silent = now - since
        if silent > timedelta(minutes=th.stale_position_min):
            found.append(
                Condition(
                    AlertKind.STALE_POSITION,
                    {"minutes": _minutes(silent), "last": since.isoformat()},
                )
            )
    # ETA later than planned.
    eta = expected_arrival(s, now, th)
    late = eta - s.planned_arrival
    if late > timedelta(minutes=th.late_arrival_min):
        remaining = track.remaining_km if track else None
        found.append(
            Condition(
                AlertKind.LATE_ARRIVAL,
                {"minutes": _minutes(late), "eta": eta.isoformat(), "remaining_km": remaining},
            )
        )
    if not fresh or track is None:
        return found
    # Off the route corridor (with hysteresis when already open).
    limit = th.corridor_km
    if AlertKind.OFF_ROUTE.value in set(open_kinds):
        limit *= rules.off_route_clear_ratio
    if track.off_route_km > limit:
        found.append(
            Condition(
                AlertKind.OFF_ROUTE,
                {
                    "distance_km": round(track.off_route_km, 1),
                    "lat": round(track.lat, 5),
                    "lon": round(track.lon, 5),
                    "last": track.last_fix_at.isoformat(),
                },
            )
        )
    # Stopped too long (the evidence is the fixes themselves, not the silence after them).
    still = track.last_fix_at - track.still_since
    if still >= timedelta(minutes=th.stopped_min) and track.remaining_km > rules.arrival_radius_km:
        found.append(
            Condition(
                AlertKind.STOPPED,
                {
                    "minutes": _minutes(still),
                    "since": track.still_since.isoformat(),
                    "lat": round(track.lat, 5),
                    "lon": round(track.lon, 5),
                    "remaining_km": round(track.remaining_km),
                },
            )
        )
    return found


# --- the lifecycle ----------------------------------------------------------------------------


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


def _local(at: datetime | str | None, settings: Settings) -> str:
    if at is None:
        return "—"
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.astimezone(settings.tz).strftime("%m-%d %H:%M")


def _message_params(
    convoy: Convoy, kind: str, details: Mapping[str, Any], settings: Settings
) -> dict[str, Any]:
    locale = settings.locale
    params: dict[str, Any] = {
        "code": convoy.code,
        "mode_label": MODE_LABELS.get(locale, MODE_LABELS["en"]).get(convoy.mode, convoy.mode),
        "origin": convoy.origin_name,
        "destination": convoy.destination_name,
        "kind_label": kind_label(kind, locale),
        "corridor_km": "",
        "remaining_km": "?",
    }
    for key, value in details.items():
        params[key] = value
    if kind == AlertKind.LATE_DEPARTURE:
        params["planned"] = _local(convoy.planned_departure, settings)
    else:
        params["planned"] = _local(convoy.planned_arrival, settings)
    for key in ("eta", "last", "since"):
        if key in details:
            params[key] = _local(details[key], settings) if details[key] else "—"
    if params.get("remaining_km") is None:
        params["remaining_km"] = "?"
    elif isinstance(params["remaining_km"], float):
        params["remaining_km"] = round(params["remaining_km"])
    return params


def _recipients(
    session: Session, convoy_id: int, roles: Sequence[str], settings: Settings
) -> list[Recipient]:
    escorts = session.execute(
        select(Escort)
        .join(Assignment, Assignment.escort_id == Escort.id)  # type: ignore[arg-type]
        .where(Assignment.convoy_id == convoy_id)  # type: ignore[arg-type]
        .order_by(Assignment.id)  # type: ignore[arg-type]
    ).scalars()
    return escort_recipients(escorts) + role_recipients(roles, settings)


def _log(session: Session, alert: Alert, at: datetime, action: str, actor: str, note: str) -> None:
    session.add(AlertEvent(alert_id=alert.id, at=at, action=action, actor=actor, note=note))  # type: ignore[arg-type]


def open_alert(
    session: Session,
    convoy: Convoy,
    cond: Condition,
    now: datetime,
    settings: Settings,
    th: Thresholds | None = None,
) -> Alert:
    """Open an alert for ``cond`` and queue its notification (escorts and alert roles).
    ``th``: the mode's thresholds when the caller has them (else read from the rule file)."""
    params = _message_params(convoy, cond.kind.value, cond.details, settings)
    thr = th or thresholds(settings.rules(), convoy.mode)
    params["corridor_km"] = thr.corridor_km
    msg = render(f"alert.{cond.kind.value}", settings.locale, **params)
    alert = Alert(
        convoy_id=convoy.id,  # type: ignore[arg-type]
        kind=cond.kind.value,
        state=AlertState.OPEN.value,
        active_key=f"{convoy.id}:{cond.kind.value}",
        opened_at=now,
        last_seen_at=now,
        summary=msg.subject,
        details=dict(cond.details),
    )
    session.add(alert)
    session.flush()
    _log(session, alert, now, "opened", "monitor", msg.subject)
    enqueue(
        session,
        f"alert:{alert.id}:opened",
        msg,
        _recipients(session, convoy.id, settings.alert_roles, settings),  # type: ignore[arg-type]
        kind="alert",
        convoy=convoy,
        alert_id=alert.id,
        locale=settings.locale,
        now=now,
    )
    return alert


def _resolve(
    session: Session,
    alert: Alert,
    convoy: Convoy,
    now: datetime,
    by: str,
    reason: str,
    settings: Settings,
) -> None:
    alert.state = AlertState.RESOLVED.value
    alert.active_key = None
    alert.resolved_at = now
    alert.resolved_by = by
    alert.resolve_reason = reason
    session.add(alert)
    _log(session, alert, now, "resolved", by, reason)
    roles = list(settings.alert_roles)
    if alert.escalation_level:
        roles += [r for r in settings.escalation_roles if r not in roles]
    msg = render(
        "alert.resolved",
        settings.locale,
        code=convoy.code,
        alert_id=alert.id,
        kind_label=kind_label(alert.kind, settings.locale),
        at=_local(now, settings),
        reason=reason,
    )
    enqueue(
        session,
        f"alert:{alert.id}:resolved",
        msg,
        _recipients(session, convoy.id, roles, settings),  # type: ignore[arg-type]
        kind="resolution",
        convoy=convoy,
        alert_id=alert.id,
        locale=settings.locale,
        now=now,
    )


def next_escalation_at(alert: Alert, settings: Settings) -> datetime | None:
    """When an unacknowledged alert escalates next (None: acknowledged, resolved or done)."""
    if alert.state != AlertState.OPEN.value:
        return None
    if alert.escalation_level >= settings.alert_max_escalations:
        return None
    base = alert.escalated_at if alert.escalation_level and alert.escalated_at else alert.opened_at
    if alert.snoozed_until is not None and alert.snoozed_until > base:
        base = alert.snoozed_until
    return base + timedelta(minutes=settings.alert_escalate_after_minutes)


def _escalate(
    session: Session, alert: Alert, convoy: Convoy, now: datetime, settings: Settings
) -> None:
    alert.escalation_level += 1
    alert.escalated_at = now
    session.add(alert)
    _log(session, alert, now, "escalated", "monitor", f"level {alert.escalation_level}")
    msg = render(
        "alert.escalated",
        settings.locale,
        code=convoy.code,
        alert_id=alert.id,
        kind_label=kind_label(alert.kind, settings.locale),
        opened=_local(alert.opened_at, settings),
        minutes=_minutes(now - alert.opened_at),
        summary=alert.summary,
    )
    enqueue(
        session,
        f"alert:{alert.id}:escalated:{alert.escalation_level}",
        msg,
        role_recipients(settings.escalation_roles, settings),
        kind="escalation",
        convoy=convoy,
        alert_id=alert.id,
        locale=settings.locale,
        now=now,
    )


def _get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(f"There is no alert #{alert_id}; see 'convoy alerts --all'.")
    return alert


def acknowledge(session: Session, alert_id: int, by: str, now: datetime | None = None) -> Alert:
    """Someone has seen the alert and takes care of it: it no longer escalates."""
    now = now or utcnow()
    alert = _get_alert(session, alert_id)
    if alert.state == AlertState.RESOLVED.value:
        raise TransitionError(f"Alert #{alert_id} is already resolved; there is nothing to ack.")
    if alert.state == AlertState.ACKNOWLEDGED.value:
        return alert
    alert.state = AlertState.ACKNOWLEDGED.value
    alert.acknowledged_at = now
    alert.acknowledged_by = by or "unknown"
    session.add(alert)
    _log(session, alert, now, "acknowledged", alert.acknowledged_by, "")
    session.flush()
    return alert


def snooze(
    session: Session, alert_id: int, minutes: float, by: str, now: datetime | None = None
) -> Alert:
    """Hold the alert's escalation for ``minutes`` (it stays open and is still shown)."""
    now = now or utcnow()
    if minutes <= 0 or minutes > 24 * 60:
        raise ValidationError("A snooze lasts more than 0 and at most 1440 minutes.")
    alert = _get_alert(session, alert_id)
    if alert.state == AlertState.RESOLVED.value:
        raise TransitionError(f"Alert #{alert_id} is resolved; a resolved alert cannot snooze.")
    alert.snoozed_until = now + timedelta(minutes=minutes)
    session.add(alert)
    _log(session, alert, now, "snoozed", by, f"until {alert.snoozed_until.isoformat()}")
    session.flush()
    return alert


def resolve(
    session: Session,
    alert_id: int,
    by: str,
    reason: str = "resolved by hand",
    now: datetime | None = None,
    settings: Settings | None = None,
) -> Alert:
    """Close the alert by hand. If the condition still holds, the monitor opens a new one."""
    now = now or utcnow()
    alert = _get_alert(session, alert_id)
    if alert.state == AlertState.RESOLVED.value:
        return alert
    convoy = session.get(Convoy, alert.convoy_id)
    assert convoy is not None
    _resolve(session, alert, convoy, now, by or "unknown", reason, settings or get_settings())
    session.flush()
    return alert


def list_alerts(
    session: Session, include_resolved: bool = False, code: str | None = None
) -> list[tuple[Alert, Convoy]]:
    stmt = select(Alert, Convoy).join(Convoy, Convoy.id == Alert.convoy_id)  # type: ignore[arg-type]
    if not include_resolved:
        stmt = stmt.where(Alert.state != AlertState.RESOLVED.value)  # type: ignore[arg-type]
    if code:
        stmt = stmt.where(Convoy.code == code)  # type: ignore[arg-type]
    rows = session.execute(stmt.order_by(Alert.id)).all()  # type: ignore[arg-type]
    return [(a, c) for a, c in rows]


def alert_history(session: Session, alert_id: int) -> list[AlertEvent]:
    return list(
        session.execute(
            select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)  # type: ignore[arg-type]
        ).scalars()
    )


# --- one monitor check ------------------------------------------------------------------------

_ACTIVE = [s.value for s in STAGES[:_ARRIVED]]
_DONE = [s.value for s in STAGES[_ARRIVED:]]


def run_checks(
    session: Session,
    now: datetime | None = None,
    settings: Settings | None = None,
    router: Router | None = None,
) -> TickReport:
    """One check of every active convoy at ``now``: fold in new positions, open, refresh and
    resolve alerts, escalate unacknowledged ones, announce arrivals. One transaction."""
    now = now or utcnow()
    if now.tzinfo is None:
        raise ValidationError("The monitor's clock must be timezone-aware.")
    settings = settings or get_settings()
    rules = settings.rules()
    report = TickReport()
    report.refreshed = catch_up(session, settings=settings, router=router)
    c = Convoy.__table__.c  # type: ignore[attr-defined]
    t = TrackState.__table__.c  # type: ignore[attr-defined]
    # One plain query (no ORM objects): every active convoy with its track state, if any.
    convoys = session.execute(
        select(
            c.id, c.code, c.mode, c.stage, c.planned_departure, c.planned_arrival,
            c.actual_departure, t.last_fix_at, t.lat, t.lon, t.off_route_km, t.remaining_km,
            t.remaining_min, t.eta, t.still_since,
        )
        .select_from(Convoy.__table__.outerjoin(TrackState.__table__, t.convoy_id == c.id))  # type: ignore[attr-defined]
        .where(c.stage.in_(_ACTIVE))
        .order_by(c.id)  # the same order of changes and notifications on every database
    ).all()  # fmt: skip
    open_alerts: dict[int, list[Alert]] = defaultdict(list)
    for a in session.execute(
        select(Alert)
        .where(Alert.state != AlertState.RESOLVED.value)  # type: ignore[arg-type]
        .order_by(Alert.id)  # type: ignore[arg-type]
    ).scalars():
        open_alerts[a.convoy_id].append(a)
    th_cache: dict[str, Thresholds] = {}
    prof_cache: dict[str, SpeedProfile] = {}
    trules = TrackingRules.from_rules(rules)
    # Convoys without a track need their planned route: load them in one query, not one each.
    untracked = (
        select(Convoy)
        .outerjoin(TrackState, col(TrackState.convoy_id) == col(Convoy.id))
        .where(col(Convoy.stage).in_(_ACTIVE), col(TrackState.convoy_id).is_(None))
    )
    orm: dict[int, Convoy] = {cv.id: cv for cv in session.execute(untracked).scalars()}  # type: ignore[misc]

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
                _resolve(
                    session, alert, convoy_obj(row.id), now, "monitor", "condition cleared",
                    settings,
                )  # fmt: skip
                report.changes.append(Change("resolved", row.code, kind, alert.id, now))
            elif (due := next_escalation_at(alert, settings)) is not None and now >= due:
                _escalate(session, alert, convoy_obj(row.id), now, settings)
                report.changes.append(
                    Change("escalated", row.code, kind, alert.id, now, {
                        "level": alert.escalation_level})
                )  # fmt: skip
    # Alerts of convoys no longer under way (arrived, closed): resolved by the arrival.
    for cid, alerts in open_alerts.items():
        convoy = convoy_obj(cid)
        for alert in alerts:
            _resolve(session, alert, convoy, now, "monitor", f"convoy {convoy.stage}", settings)
            report.changes.append(Change("resolved", convoy.code, alert.kind, alert.id, now))
    _announce_arrivals(session, now, report)
    session.flush()
    return report


def _announce_arrivals(session: Session, now: datetime, report: TickReport) -> None:
    c = Convoy.__table__.c  # type: ignore[attr-defined]
    done = select(Announcement.convoy_id).where(Announcement.name == "arrived")  # type: ignore[call-overload]
    rows = session.execute(
        select(c.id, c.code, c.actual_arrival, c.planned_arrival)
        .where(c.stage.in_(_DONE), c.actual_arrival.is_not(None), c.id.not_in(done))
        .order_by(c.id)
    ).all()
    for cid, code, actual, planned in rows:
        session.add(Announcement(convoy_id=cid, name="arrived", at=now))
        late = round((actual - planned).total_seconds() / 60)
        report.changes.append(
            Change("arrived", code, "arrived", None, actual, {"late_minutes": late})
        )


# --- one monitor per database -----------------------------------------------------------------


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire_lease(
    session: Session, holder: str, now: datetime, expires_after: timedelta, name: str = "monitor"
) -> MonitorLease:
    """Become the one monitor of this database, unless another holds a live lease."""
    # The row is created first (expired, a no-op when it exists) so that the lock below always
    # has a row to take: two monitors starting at once on PostgreSQL queue on it and the second
    # is told the database is busy, instead of both inserting and one failing on the key.
    table = MonitorLease.__table__  # type: ignore[attr-defined]
    expired = now - expires_after
    session.execute(
        insert_ignore(session, table).values(
            name=name, holder="", started_at=now, heartbeat_at=expired
        )
    )
    lease = session.get(MonitorLease, name, with_for_update=True)
    if lease is not None and lease.holder != holder and now - lease.heartbeat_at < expires_after:
        raise MonitorBusyError(
            f"Another delay monitor ({lease.holder}) runs on this database, last seen "
            f"{lease.heartbeat_at.isoformat(timespec='seconds')}; only one may run per database. "
            "Stop it first, or wait until its lease expires."
        )
    if lease is None:
        lease = MonitorLease(name=name, holder=holder, started_at=now, heartbeat_at=now)
        session.add(lease)
    else:
        if lease.holder != holder:
            lease.started_at = now
        lease.holder = holder
        lease.heartbeat_at = now
    session.flush()
    return lease


def renew_lease(session: Session, holder: str, now: datetime, name: str = "monitor") -> bool:
    """Refresh our lease; False if someone else took it over (then we must stop)."""
    lease = session.get(MonitorLease, name)
    if lease is None or lease.holder != holder:
        return False
    lease.heartbeat_at = now
    session.flush()
    return True


def release_lease(session: Session, holder: str, name: str = "monitor") -> None:
    lease = session.get(MonitorLease, name)
    if lease is not None and lease.holder == holder:
        session.delete(lease)
        session.flush()
