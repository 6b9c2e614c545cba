"""Looking up vehicle-pass applications, their passes and their history."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from models.convoy.tables import Campaign
from models.errors import NotFoundError, did_you_mean
from models.permits.tables import Permit, PermitApplication, PermitEvent, PermitVehicle


def get_application(session: Session, key: str | int) -> PermitApplication:
    """An application by its number (``TX-20200220-0001``) or its numeric id."""
    text = str(key).strip()
    stmt = select(PermitApplication)
    if text.isdigit():
        stmt = stmt.where(col(PermitApplication.id) == int(text))
    else:
        stmt = stmt.where(col(PermitApplication.number) == text.upper())
    found = session.execute(stmt).scalars().first()
    if found is None and not text.isdigit():  # the number of one of its passes
        found = (
            session.execute(
                select(PermitApplication)
                .join(Permit, col(Permit.application_id) == col(PermitApplication.id))
                .where(col(Permit.number) == text.upper())
            )
            .scalars()
            .first()
        )
    if found is None:
        numbers = session.execute(select(col(PermitApplication.number))).scalars()
        hint = did_you_mean(text.upper(), numbers, cutoff=0.6)
        raise NotFoundError(f"There is no vehicle-pass application {text!r}.{hint}")
    return found


def get_permit(session: Session, app: PermitApplication) -> Permit | None:
    """The application's pass valid the longest (its first one when they agree), or None
    before issue."""
    return (
        session.execute(
            select(Permit)
            .where(col(Permit.application_id) == app.id)
            .order_by(col(Permit.valid_until).desc(), col(Permit.id))
        )
        .scalars()
        .first()
    )


def get_permits(session: Session, app: PermitApplication) -> list[Permit]:
    """Every pass of the application, in the order of its vehicles."""
    return list(
        session.execute(
            select(Permit).where(col(Permit.application_id) == app.id).order_by(col(Permit.id))
        ).scalars()
    )


def get_vehicles(session: Session, app: PermitApplication) -> list[PermitVehicle]:
    """The application's vehicles, 1, 2, 3 …"""
    return list(
        session.execute(
            select(PermitVehicle)
            .where(col(PermitVehicle.application_id) == app.id)
            .order_by(col(PermitVehicle.seq))
        ).scalars()
    )


def get_pass(session: Session, number: str) -> Permit:
    """A pass by its number (``TX-20200220-0001`` or ``TX-20200220-0001-007``)."""
    text = str(number).strip().upper()
    found = session.execute(select(Permit).where(col(Permit.number) == text)).scalars().first()
    if found is None:
        raise NotFoundError(f"There is no vehicle pass {text!r}.")
    return found


def plates_of(session: Session, app: PermitApplication) -> list[str]:
    return [v.plate for v in get_vehicles(session, app)]


def plates_label(plates: list[str]) -> str:
    """'浙B12345', or '浙B12345 +49' for a fleet."""
    if not plates:
        return ""
    return plates[0] if len(plates) == 1 else f"{plates[0]} +{len(plates) - 1}"


def list_applications(
    session: Session,
    *,
    status: str | None = None,
    campaign: str | None = None,
    project: str | None = None,
) -> list[PermitApplication]:
    stmt = select(PermitApplication).order_by(col(PermitApplication.id))
    if project:
        stmt = stmt.where(col(PermitApplication.project) == project.strip())
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
