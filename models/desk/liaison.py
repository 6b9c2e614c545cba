"""Liaison officers (一对一负责): one responsible officer per enterprise, a deputy optional.

The officer (and the deputy) receive the enterprise's requests and its arrival notices through
the outbox, at the notify URLs of their escort records.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from models.access.users import require
from models.convoy.tables import Enterprise, Escort
from models.db import utcnow
from models.desk.lookup import get_enterprise, get_officer
from models.desk.tables import Liaison
from models.errors import ValidationError
from models.intake.identity import mask_phone
from models.notify.outbox import Recipient, escort_recipients


def assign_liaison(
    session: Session, enterprise: str, officer: str, deputy: str | None = None
) -> Liaison:
    """Make ``officer`` (a badge) responsible for the enterprise, with an optional deputy;
    assigning again replaces both."""
    require(session, "desk.write")
    ent = get_enterprise(session, enterprise)
    lead = get_officer(session, officer)
    second = get_officer(session, deputy) if deputy else None
    if second is not None and second.id == lead.id:
        raise ValidationError(
            f"{lead.badge} cannot be both the liaison officer and the deputy of {ent.name}."
        )
    found = session.execute(
        select(Liaison).where(col(Liaison.enterprise_id) == ent.id)
    ).scalar_one_or_none()
    if found is None:
        found = Liaison(enterprise_id=ent.id or 0, officer_id=lead.id or 0)
    found.officer_id = lead.id or 0
    found.deputy_id = second.id if second else None
    found.assigned_at = utcnow()
    session.add(found)
    session.flush()
    return found


def officers_of(session: Session, enterprise_id: int) -> tuple[Escort | None, Escort | None]:
    """The enterprise's liaison officer and deputy (None when not assigned)."""
    found = session.execute(
        select(Liaison).where(col(Liaison.enterprise_id) == enterprise_id)
    ).scalar_one_or_none()
    if found is None:
        return None, None
    deputy = session.get(Escort, found.deputy_id) if found.deputy_id else None
    return session.get(Escort, found.officer_id), deputy


def liaison_recipients(session: Session, enterprise_id: int) -> list[Recipient]:
    """Where the enterprise's requests and arrival notices go: its officer and deputy."""
    return escort_recipients(e for e in officers_of(session, enterprise_id) if e is not None)


def officer_view(escort: Escort | None) -> dict[str, Any] | None:
    """An officer as the enterprise and the console see them (phone masked)."""
    if escort is None:
        return None
    return {
        "badge": escort.badge,
        "name": escort.name,
        "unit": escort.unit,
        "phone": mask_phone(escort.phone),
    }


def liaison_view(session: Session, enterprise_id: int) -> dict[str, Any]:
    officer, deputy = officers_of(session, enterprise_id)
    return {"officer": officer_view(officer), "deputy": officer_view(deputy)}


def all_liaisons(session: Session) -> dict[int, dict[str, Any]]:
    """Enterprise id → its liaison view, for listings (one query per table)."""
    escorts = {e.id: e for e in session.execute(select(Escort)).scalars()}
    return {
        link.enterprise_id: {
            "officer": officer_view(escorts.get(link.officer_id)),
            "deputy": officer_view(escorts.get(link.deputy_id)) if link.deputy_id else None,
        }
        for link in session.execute(select(Liaison)).scalars()
    }


def enterprise_rows(session: Session) -> list[dict[str, Any]]:
    """Every enterprise with its district, contact (phone masked) and liaison officer."""
    require(session, "desk.read")
    links = all_liaisons(session)
    out = []
    for ent in session.execute(select(Enterprise).order_by(col(Enterprise.name))).scalars():
        link = links.get(ent.id or 0, {"officer": None, "deputy": None})
        out.append(
            {
                "name": ent.name,
                "district": ent.district,
                "address": ent.address,
                "contact": ent.contact_name,
                "phone": mask_phone(ent.contact_phone),
                **link,
            }
        )
    return out
