"""Same-day service (passes delivered on the local day their application was filed) and the
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
from models.permits.queries import plates_label, plates_of
from models.permits.tables import Permit, PermitApplication, PermitStatus


@dataclass
class SameDayStats:
    """Same-day service: passes delivered on the local day their application was filed."""

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
        .order_by(col(PermitApplication.id), col(Permit.id))
    )
    if campaign:
        stmt = stmt.join(Campaign).where(col(Campaign.name) == campaign)
    seen: set[int] = set()
    for app, permit in session.execute(stmt).all():
        status = PermitStatus(app.status)
        if permit is not None and permit.delivered_at is not None:
            delivered += 1
            same += local_day(permit.delivered_at, settings) == local_day(app.applied_at, settings)
        if status in OPEN_STATUSES and app.id not in seen:
            seen.add(app.id or 0)
            entry = {
                "number": app.number,
                "plate": plates_label(plates_of(session, app)),
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
    """Campaign figures of the vehicle passes: passes issued (delivered ones included), units
    served (enterprises holding at least one pass), delivered, and the same-day rate."""
    stmt = select(col(Permit.id), col(PermitApplication.enterprise)).join(
        PermitApplication, col(PermitApplication.id) == col(Permit.application_id)
    )
    if campaign:
        stmt = stmt.join(Campaign).where(col(Campaign.name) == campaign)
    rows = session.execute(stmt).all()
    stats = same_day_stats(session, campaign=campaign)
    return {
        "passes_issued": len(rows),
        "passes_delivered": stats.delivered,
        "passes_same_day_rate": stats.rate,
        "units_served": len({unit for _, unit in rows}),
    }
