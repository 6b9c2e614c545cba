"""Same-day service (applications filed and delivered on the same local day) and the
campaign figures of the vehicle passes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from config import Settings
from models.convoy.tables import Campaign
from models.labels import local_time
from models.permits.days import at_or_now, day_start, local_day
from models.permits.lifecycle import OPEN_STATUSES
from models.permits.tables import Permit, PermitApplication, PermitStatus


@dataclass
class SameDayStats:
    """Same-day service: applications filed and delivered on the same local day."""

    day: date
    delivered: int
    same_day: int
    rate: float | None
    at_risk: list[dict[str, Any]]
    overdue: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": str(self.day),
            "delivered": self.delivered,
            "same_day": self.same_day,
            "same_day_rate": self.rate,
            "at_risk": self.at_risk,
            "overdue": self.overdue,
        }


def same_day_stats(
    session: Session,
    *,
    now: datetime | None = None,
    campaign: str | None = None,
    settings: Settings | None = None,
) -> SameDayStats:
    """The same-day rate over delivered passes, and the open applications: ``at_risk`` (filed
    today, not delivered yet: hours left before local midnight) and ``overdue`` (filed on an
    earlier day, still open: same-day service already missed)."""
    now = at_or_now(now)
    today = local_day(now, settings)
    midnight = day_start(today + timedelta(days=1), settings)
    delivered = same = 0
    at_risk: list[dict[str, Any]] = []
    overdue: list[dict[str, Any]] = []
    stmt = (
        select(PermitApplication, Permit)
        .outerjoin(Permit, col(Permit.application_id) == col(PermitApplication.id))
        .order_by(col(PermitApplication.id))
    )
    if campaign:
        stmt = stmt.join(Campaign).where(col(Campaign.name) == campaign)
    for app, permit in session.execute(stmt).all():
        status = PermitStatus(app.status)
        if status is PermitStatus.DELIVERED:
            delivered += 1
            if permit is not None and permit.delivered_at is not None:
                same += local_day(permit.delivered_at, settings) == local_day(
                    app.applied_at, settings
                )
        elif status in OPEN_STATUSES:
            entry = {
                "number": app.number,
                "plate": app.plate,
                "status": app.status,
                "applied_at": local_time(app.applied_at, settings),
            }
            if local_day(app.applied_at, settings) == today:
                hours = round((midnight - now).total_seconds() / 3600, 1)
                at_risk.append({**entry, "hours_left": hours})
            else:
                overdue.append(entry)
    rate = round(same / delivered, 4) if delivered else None
    return SameDayStats(today, delivered, same, rate, at_risk, overdue)


def permit_figures(session: Session, campaign: str | None = None) -> dict[str, Any]:
    """Campaign figures of the vehicle passes: passes issued (delivered ones included),
    delivered, and the same-day rate."""
    stmt = select(col(PermitApplication.status))
    if campaign:
        stmt = stmt.join(Campaign).where(col(Campaign.name) == campaign)
    statuses = list(session.execute(stmt).scalars())
    issued = sum(s in (PermitStatus.ISSUED.value, PermitStatus.DELIVERED.value) for s in statuses)
    stats = same_day_stats(session, campaign=campaign)
    return {
        "passes_issued": issued,
        "passes_delivered": stats.delivered,
        "passes_same_day_rate": stats.rate,
    }
