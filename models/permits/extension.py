"""Bulk extension of vehicle passes: every pass expiring soon, or a list of them, in one
transaction (idempotent: a pass is never shortened)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from config import Settings
from models.errors import TransitionError, ValidationError
from models.permits.days import at_or_now, day_end, local_day
from models.permits.lifecycle import record_event
from models.permits.queries import get_application, get_permit, last_event
from models.permits.tables import Permit, PermitApplication, PermitStatus


def extend_permits(
    session: Session,
    until: date,
    *,
    expiring_within_days: int | None = None,
    numbers: Sequence[str] | None = None,
    now: datetime | None = None,
    actor: str = "",
    settings: Settings | None = None,
) -> list[dict[str, str]]:
    """Extend to the end of ``until`` every pass still valid that expires within
    ``expiring_within_days``, or the passes ``numbers``, in the caller's transaction.

    Idempotent: a pass already valid until then (or later) is left alone, never shortened.
    Returns what changed: ``[{"number", "plate", "from", "to"}]`` (local dates).
    """
    now = at_or_now(now)
    if (expiring_within_days is None) == (numbers is None):
        raise ValidationError("Extend either the passes expiring within N days or a list of them.")
    new_end = day_end(until, settings)
    if new_end < now:
        raise ValidationError(f"The new end date {until} has already passed.")
    live = (PermitStatus.ISSUED.value, PermitStatus.DELIVERED.value)
    rows: list[tuple[Permit, PermitApplication]]
    if numbers is not None:
        rows = []
        for number in numbers:
            app = get_application(session, number)
            permit = get_permit(session, app)
            if permit is None or app.status not in live:
                raise TransitionError(
                    f"Application {app.number} is {app.status}; only an issued pass can be "
                    "extended."
                )
            rows.append((permit, app))
    else:
        if expiring_within_days is None or expiring_within_days < 0:
            raise ValidationError("The number of days must be zero or more.")
        horizon = day_end(local_day(now, settings) + timedelta(days=expiring_within_days), settings)
        found = session.execute(
            select(Permit, PermitApplication)
            .join(PermitApplication, col(PermitApplication.id) == col(Permit.application_id))
            .where(
                col(PermitApplication.status).in_(live),
                col(Permit.valid_until) >= now,
                col(Permit.valid_until) <= horizon,
            )
            .order_by(col(Permit.valid_until), col(Permit.id))
        ).all()
        rows = [(p, a) for p, a in found]
    changed: list[dict[str, str]] = []
    for permit, app in rows:
        if permit.valid_until >= new_end:
            continue
        before = local_day(permit.valid_until, settings)
        permit.valid_until = new_end
        session.add(permit)
        record_event(
            session,
            app,
            "extended",
            max(now, _last_at(session, app)),
            actor=actor,
            data={"from": str(before), "to": str(until)},
        )
        changed.append(
            {"number": permit.number, "plate": app.plate, "from": str(before), "to": str(until)}
        )
    session.flush()
    return changed


def _last_at(session: Session, app: PermitApplication) -> datetime:
    last = last_event(session, app)
    return last.at if last else app.applied_at
