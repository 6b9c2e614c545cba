"""A convoy's seat roster: who sits where, masked as every shared list is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from models.convoy.store import get_convoy
from models.convoy.tables import Passenger
from models.intake.identity import mask_id, mask_name


def seat_roster(session: Session, code: str) -> list[dict[str, Any]]:
    """Seat, masked name, masked ID number, employer and custody state, by seat."""
    convoy = get_convoy(session, code)
    p = Passenger.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        select(p.c.seat, p.c.name, p.c.id_number, p.c.employer, p.c.custody)
        .where(p.c.convoy_id == convoy.id)
        .order_by(p.c.seat)
    ).all()
    return [
        {"seat": seat, "name": mask_name(name), "id_number": mask_id(idn), "employer": employer,
         "custody": custody}
        for seat, name, idn, employer, custody in rows
    ]  # fmt: skip
