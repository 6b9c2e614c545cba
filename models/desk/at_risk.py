"""The same-day target's warning: requests still open or in hand when their target is less
than ``[desk] at_risk_hours`` away (or already passed) are announced once, through the outbox,
to the enterprise's liaison officer and deputy and to the coordinators. The delay monitor runs
:func:`check_at_risk` on every tick, on its own (possibly accelerated) clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from config import Settings, get_settings
from models.convoy.tables import Enterprise
from models.desk.liaison import liaison_recipients
from models.desk.requests import OPEN
from models.desk.tables import DeskRequest
from models.labels import label, local_time
from models.notify.messages import render
from models.notify.outbox import enqueue, role_recipients


def at_risk(session: Session, now: datetime, settings: Settings | None = None) -> list[Any]:
    """(request, enterprise name) of every request not answered with its target near."""
    settings = settings or get_settings()
    horizon = now + timedelta(hours=settings.rule_set.desk.at_risk_hours)
    return list(
        session.execute(
            select(DeskRequest, col(Enterprise.name))
            .join(Enterprise, col(Enterprise.id) == DeskRequest.enterprise_id)
            .where(
                col(DeskRequest.status).in_([s.value for s in OPEN]),
                col(DeskRequest.due_at) <= horizon,
                col(DeskRequest.raised_at) <= now,
            )
            .order_by(col(DeskRequest.due_at), col(DeskRequest.id))
        ).all()
    )


def check_at_risk(session: Session, now: datetime, settings: Settings | None = None) -> int:
    """Queue the at-risk warning of every request whose target is near (once per request and
    recipient); returns the outbox rows added."""
    settings = settings or get_settings()
    loc = settings.locale
    coordinators = role_recipients(["coordinator"], settings)
    added = 0
    for req, enterprise in at_risk(session, now, settings):
        left = max(0.0, (req.due_at - now).total_seconds() / 3600)
        message = render(
            "desk.at_risk", loc, number=req.number, enterprise=enterprise,
            kind=label("desk", f"kind.{req.kind}", loc),
            status=label("desk", f"status.{req.status}", loc),
            due=local_time(req.due_at, settings, short=True), hours=f"{left:.1f}",
        )  # fmt: skip
        recipients = [*liaison_recipients(session, req.enterprise_id), *coordinators]
        added += enqueue(session, f"desk:{req.number}:at_risk", message, recipients,
                         kind="alert", locale=loc, now=now)  # fmt: skip
    return added
