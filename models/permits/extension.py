"""Bulk extension of vehicle passes in one transaction, idempotent (a pass is never shortened).

Which passes: the live ones (issued or delivered, still valid) that match every filter given —
expiring within N days, of one unit (the applicant enterprise), of one major project, listed
by number (a pass number, or an application number for all its passes) — or the emergency
policy of the model case: every pass expiring by the end of the emergency is extended to three
months after it (:func:`policy_end`). ``dry_run`` says what would change and changes nothing.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from config import Settings
from models.db import in_chunks
from models.errors import TransitionError, ValidationError
from models.permits.days import at_or_now, day_end, local_day
from models.permits.lifecycle import record_event
from models.permits.queries import get_application, get_permits, last_event
from models.permits.tables import Permit, PermitApplication, PermitStatus, PermitVehicle

POLICY_MONTHS = 3
_LIVE = (PermitStatus.ISSUED.value, PermitStatus.DELIVERED.value)


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, the day clamped to the month's length (01-31 + 1 → 02-29)."""
    m = day.month - 1 + months
    year, month = day.year + m // 12, m % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def policy_end(emergency_end: date) -> date:
    """The policy's new last day: three months after the emergency ends."""
    return add_months(emergency_end, POLICY_MONTHS)


def _listed(session: Session, numbers: Sequence[str]) -> list[tuple[Permit, PermitApplication]]:
    """The passes listed: a pass number is that pass, an application number all its passes."""
    rows: list[tuple[Permit, PermitApplication]] = []
    for number in numbers:
        text = str(number).strip().upper()
        permit = session.execute(select(Permit).where(col(Permit.number) == text)).scalars().first()
        app = (
            session.get(PermitApplication, permit.application_id)
            if permit is not None
            else get_application(session, number)
        )
        assert app is not None
        if app.status not in _LIVE:
            raise TransitionError(
                f"Application {app.number} is {app.status}; only an issued pass can be extended."
            )
        rows.extend((p, app) for p in ([permit] if permit else get_permits(session, app)))
    return rows


def extend_permits(
    session: Session,
    until: date | None,
    *,
    expiring_within_days: int | None = None,
    numbers: Sequence[str] | None = None,
    unit: str | None = None,
    project: str | None = None,
    emergency_end: date | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    actor: str = "",
    settings: Settings | None = None,
) -> list[dict[str, str]]:
    """Extend to the end of ``until`` the live passes selected (see the module doc), in the
    caller's transaction; with ``emergency_end`` (the policy) the new end is
    :func:`policy_end` and only passes ending by the end of the emergency are taken.

    Idempotent: a pass already valid until then (or later) is left alone, never shortened.
    Returns what changed (or would, with ``dry_run``): ``[{"number", "plate", "unit",
    "from", "to"}]`` (local dates).
    """
    now = at_or_now(now)
    if emergency_end is not None:
        if until is not None:
            raise ValidationError(
                "The emergency policy sets the new end itself (three months after the "
                "emergency); give either --policy or --until."
            )
        until = policy_end(emergency_end)
    if until is None:
        raise ValidationError("Give the new last day (--until) or the emergency policy.")
    if numbers is not None and expiring_within_days is not None:
        raise ValidationError("Extend either the passes expiring within N days or a list of them.")
    if not (numbers or expiring_within_days is not None or unit or project or emergency_end):
        raise ValidationError(
            "Extend either the passes expiring within N days or a list of them (or those of a "
            "unit, a project, or the emergency policy)."
        )
    new_end = day_end(until, settings)
    if new_end < now:
        raise ValidationError(f"The new end date {until} has already passed.")
    rows: list[tuple[Permit, PermitApplication]]
    if numbers:
        rows = _listed(session, numbers)
        if unit or project:
            rows = [
                (p, a)
                for p, a in rows
                if (not unit or a.enterprise == unit.strip())
                and (not project or a.project == project.strip())
            ]
    else:
        stmt = (
            select(Permit, PermitApplication)
            .join(PermitApplication, col(PermitApplication.id) == col(Permit.application_id))
            .where(col(PermitApplication.status).in_(_LIVE), col(Permit.valid_until) >= now)
            .order_by(col(Permit.valid_until), col(Permit.id))
        )
        if expiring_within_days is not None:
            if expiring_within_days < 0:
                raise ValidationError("The number of days must be zero or more.")
            day = local_day(now, settings) + timedelta(days=expiring_within_days)
            stmt = stmt.where(col(Permit.valid_until) <= day_end(day, settings))
        if emergency_end is not None:
            stmt = stmt.where(col(Permit.valid_until) <= day_end(emergency_end, settings))
        if unit:
            stmt = stmt.where(col(PermitApplication.enterprise) == unit.strip())
        if project:
            stmt = stmt.where(col(PermitApplication.project) == project.strip())
        rows = [(p, a) for p, a in session.execute(stmt).all()]
    plates = _plates(session, [p.vehicle_id for p, _ in rows if p.vehicle_id])
    changed: list[dict[str, str]] = []
    apps: dict[int, tuple[PermitApplication, list[str], str]] = {}
    for permit, app in rows:
        if permit.valid_until >= new_end:
            continue
        before = local_day(permit.valid_until, settings)
        changed.append(
            {
                "number": permit.number,
                "plate": plates.get(permit.vehicle_id or 0, ""),
                "unit": app.enterprise,
                "from": str(before),
                "to": str(until),
            }
        )
        if dry_run:
            continue
        permit.valid_until = new_end
        session.add(permit)
        entry = apps.setdefault(app.id or 0, (app, [], str(before)))
        entry[1].append(permit.number)
    for app, passes, first in apps.values():
        record_event(
            session,
            app,
            "extended",
            max(now, _last_at(session, app)),
            actor=actor,
            data={"from": first, "to": str(until), "passes": passes},
        )
    session.flush()
    return changed


def _plates(session: Session, ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for chunk in in_chunks(ids):
        rows = session.execute(
            select(col(PermitVehicle.id), col(PermitVehicle.plate)).where(
                col(PermitVehicle.id).in_(chunk)
            )
        ).all()
        out.update({k: v for k, v in rows})
    return out


def _last_at(session: Session, app: PermitApplication) -> datetime:
    last = last_event(session, app)
    return last.at if last else app.applied_at
