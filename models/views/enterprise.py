"""What an enterprise sees through its own signed link: its registered workers with every
version of their registration, and its handoffs — ID and phone numbers masked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from models.access.users import require
from models.convoy.lifecycle import Custody
from models.convoy.tables import Convoy, Passenger
from models.intake.identity import mask_id, mask_phone
from models.intake.registration import VERSIONED, versions


def _shown(field: str, value: Any) -> Any:
    if field == "phone":
        return mask_phone(value or "")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def enterprise_view(session: Session, enterprise_id: int) -> dict[str, Any]:
    """Registrations (newest first) with their versions (each listing what it changed), and the
    number of workers handed off to the enterprise per convoy."""
    require(session, "registration.read", enterprise_id=enterprise_id)
    codes = {cid: code for cid, code in session.execute(select(col(Convoy.id), col(Convoy.code)))}
    registrations = []
    for reg, kept in versions(session, enterprise_id):
        shown, previous = [], None
        for v in kept:
            changes = {
                f: _shown(f, getattr(v, f))
                for f in VERSIONED
                if previous is None or getattr(v, f) != getattr(previous, f)
            }
            shown.append({"version": v.version, "submitted_at": v.submitted_at, "changes": {
                k: val for k, val in changes.items() if val not in ("", None)}})  # fmt: skip
            previous = v
        registrations.append(
            {
                "name": reg.name,
                "id_number": mask_id(reg.id_number),
                "phone": mask_phone(reg.phone),
                "version": reg.version,
                "convoy": codes.get(reg.convoy_id) if reg.convoy_id else None,
                "versions": shown,
            }
        )
    require(session, "handoff.read", enterprise_id=enterprise_id)
    rows = session.execute(
        select(col(Convoy.code), func.count(), func.max(col(Passenger.custody_at)))
        .join(Convoy, col(Convoy.id) == Passenger.convoy_id)
        .where(
            col(Passenger.enterprise_id) == enterprise_id,
            col(Passenger.custody) == Custody.HANDED_OFF.value,
        )
        .group_by(col(Convoy.code))
        .order_by(col(Convoy.code))
    ).all()
    handoffs = [{"convoy": c, "handed_off": int(n), "last_at": at} for c, n, at in rows]
    return {"registrations": registrations, "handoffs": handoffs}
