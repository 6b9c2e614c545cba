"""The alert lifecycle: open → acknowledged → resolved, escalation and snoozing.

One alert per condition per convoy until it is resolved (a unique key enforces it); it resolves
itself when the condition clears or the convoy arrives; nobody acknowledging it within the
escalation time escalates it to the coordinator; a snooze holds the escalation until it ends.
Every change is recorded in ``alert_event`` and queued in the outbox in the same transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from config import Settings, get_settings
from models.convoy.tables import Convoy
from models.db import utcnow
from models.errors import NotFoundError, TransitionError, ValidationError
from models.notify.outbox import enqueue, role_recipients
from models.tracking.alerts.detection import Condition
from models.tracking.alerts.messages import (
    alert_recipients,
    escalated_message,
    opened_message,
    resolved_message,
)
from models.tracking.alerts.tables import Alert, AlertEvent, AlertState
from models.tracking.eta import Thresholds, thresholds


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
    thr = th or thresholds(settings.rule_set, convoy.mode)
    msg = opened_message(convoy, cond.kind.value, cond.details, thr.corridor_km, settings)
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
        alert_recipients(session, convoy.id, settings.alert_roles, settings),  # type: ignore[arg-type]
        kind="alert",
        convoy=convoy,
        alert_id=alert.id,
        locale=settings.locale,
        now=now,
    )
    return alert


def resolve_alert(
    session: Session,
    alert: Alert,
    convoy: Convoy,
    now: datetime,
    by: str,
    reason: str,
    settings: Settings,
) -> None:
    """Resolve ``alert`` (of ``convoy``) and queue the notice to whoever was told of it."""
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
    enqueue(
        session,
        f"alert:{alert.id}:resolved",
        resolved_message(alert, convoy, now, reason, settings),
        alert_recipients(session, convoy.id, roles, settings),  # type: ignore[arg-type]
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


def escalate_alert(
    session: Session, alert: Alert, convoy: Convoy, now: datetime, settings: Settings
) -> None:
    """Raise the alert one escalation level and queue the notice to the escalation roles."""
    alert.escalation_level += 1
    alert.escalated_at = now
    session.add(alert)
    _log(session, alert, now, "escalated", "monitor", f"level {alert.escalation_level}")
    enqueue(
        session,
        f"alert:{alert.id}:escalated:{alert.escalation_level}",
        escalated_message(alert, convoy, now, settings),
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
    resolve_alert(session, alert, convoy, now, by or "unknown", reason, settings or get_settings())
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
