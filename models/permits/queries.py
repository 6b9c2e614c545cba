"""Looking up vehicle-pass applications, their passes and their history."""

from __future__ import annotations

import difflib

from sqlalchemy import select
from sqlmodel import Session, col

from models.convoy.tables import Campaign
from models.errors import NotFoundError
from models.permits.tables import Permit, PermitApplication, PermitEvent


def get_application(session: Session, key: str | int) -> PermitApplication:
    """An application by its number (``TX-20200220-0001``) or its numeric id."""
    text = str(key).strip()
    stmt = select(PermitApplication)
    if text.isdigit():
        stmt = stmt.where(col(PermitApplication.id) == int(text))
    else:
        stmt = stmt.where(col(PermitApplication.number) == text.upper())
    found = session.execute(stmt).scalars().first()
    if found is None:
        numbers = list(session.execute(select(col(PermitApplication.number))).scalars())
        near = difflib.get_close_matches(text.upper(), numbers, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(near)}?" if near else ""
        raise NotFoundError(f"There is no vehicle-pass application {text!r}.{hint}")
    return found


def get_permit(session: Session, app: PermitApplication) -> Permit | None:
    return (
        session.execute(select(Permit).where(col(Permit.application_id) == app.id))
        .scalars()
        .first()
    )


def list_applications(
    session: Session, *, status: str | None = None, campaign: str | None = None
) -> list[PermitApplication]:
    stmt = select(PermitApplication).order_by(col(PermitApplication.id))
    if status:
        stmt = stmt.where(col(PermitApplication.status) == status)
    if campaign:
        stmt = stmt.join(Campaign).where(col(Campaign.name) == campaign)
    return list(session.execute(stmt).scalars())


def permit_events(session: Session, app: PermitApplication) -> list[PermitEvent]:
    return list(
        session.execute(
            select(PermitEvent)
            .where(col(PermitEvent.application_id) == app.id)
            .order_by(col(PermitEvent.seq))
        ).scalars()
    )


def last_event(session: Session, app: PermitApplication) -> PermitEvent | None:
    """The application's most recent event (None before it is filed)."""
    return (
        session.execute(
            select(PermitEvent)
            .where(col(PermitEvent.application_id) == app.id)
            .order_by(col(PermitEvent.seq).desc())
        )
        .scalars()
        .first()
    )
