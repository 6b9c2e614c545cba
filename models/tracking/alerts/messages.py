"""The notifications of an alert: its texts (opened, escalated, resolved) and who receives them.

The templates and labels live in ``models.notify.messages``; this module fills them in for one
alert (local times, mode and kind labels, distances). The recipients are the convoy's escorts
and the given roles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from config import Settings
from models.convoy.tables import Assignment, Convoy, Escort
from models.labels import local_time
from models.notify.messages import Message, kind_label, mode_label, render
from models.notify.outbox import Recipient, escort_recipients, role_recipients
from models.tracking.alerts.detection import whole_minutes
from models.tracking.alerts.tables import Alert, AlertKind


def _when(at: datetime | str | None, settings: Settings) -> str:
    return local_time(at, settings, short=True, empty="—")


def _opened_params(
    convoy: Convoy, kind: str, details: Mapping[str, Any], settings: Settings
) -> dict[str, Any]:
    locale = settings.locale
    params: dict[str, Any] = {
        "code": convoy.code,
        "mode_label": mode_label(convoy.mode, locale),
        "origin": convoy.origin_name,
        "destination": convoy.destination_name,
        "kind_label": kind_label(kind, locale),
        "corridor_km": "",
        "remaining_km": "?",
    }
    for key, value in details.items():
        params[key] = value
    if kind == AlertKind.LATE_DEPARTURE:
        params["planned"] = _when(convoy.planned_departure, settings)
    else:
        params["planned"] = _when(convoy.planned_arrival, settings)
    for key in ("eta", "last", "since"):
        if key in details:
            params[key] = _when(details[key], settings) if details[key] else "—"
    if params.get("remaining_km") is None:
        params["remaining_km"] = "?"
    elif isinstance(params["remaining_km"], float):
        params["remaining_km"] = round(params["remaining_km"])
    return params


def opened_message(
    convoy: Convoy, kind: str, details: Mapping[str, Any], corridor_km: float, settings: Settings
) -> Message:
    """The notification of a newly opened alert of ``kind`` (``details`` from detection)."""
    params = _opened_params(convoy, kind, details, settings)
    params["corridor_km"] = corridor_km
    return render(f"alert.{kind}", settings.locale, **params)


def resolved_message(
    alert: Alert, convoy: Convoy, now: datetime, reason: str, settings: Settings
) -> Message:
    return render(
        "alert.resolved",
        settings.locale,
        code=convoy.code,
        alert_id=alert.id,
        kind_label=kind_label(alert.kind, settings.locale),
        at=_when(now, settings),
        reason=reason,
    )


def escalated_message(alert: Alert, convoy: Convoy, now: datetime, settings: Settings) -> Message:
    return render(
        "alert.escalated",
        settings.locale,
        code=convoy.code,
        alert_id=alert.id,
        kind_label=kind_label(alert.kind, settings.locale),
        opened=_when(alert.opened_at, settings),
        minutes=whole_minutes(now - alert.opened_at),
        summary=alert.summary,
    )


def alert_recipients(
    session: Session, convoy_id: int, roles: Sequence[str], settings: Settings
) -> list[Recipient]:
    """The convoy's escorts (in assignment order), then the people of ``roles``."""
    escorts = session.execute(
        select(Escort)
        .join(Assignment, Assignment.escort_id == Escort.id)  # type: ignore[arg-type]
        .where(Assignment.convoy_id == convoy_id)  # type: ignore[arg-type]
        .order_by(Assignment.id)  # type: ignore[arg-type]
    ).scalars()
    return escort_recipients(escorts) + role_recipients(roles, settings)
