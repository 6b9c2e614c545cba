"""Custody moves go to the driver's executemany: what they store is what SQLAlchemy itself
stores for the same values, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select, text, update

from config import Settings
from models.convoy.custody import Change, apply_changes
from models.convoy.lifecycle import Custody
from models.convoy.store import get_convoy, passengers
from models.convoy.tables import CustodyEvent, Passenger
from models.db import session_scope
from tests.conftest import SHANGHAI

_P = Passenger.__table__  # type: ignore[attr-defined]


def test_a_move_stores_what_sqlalchemy_stores(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-DRV", n=3)
    at = datetime(2020, 2, 20, 9, 30, 0, tzinfo=SHANGHAI)  # no microseconds: stored all the same
    with session_scope() as s:
        convoy = get_convoy(s, code)
        first, second, third = (p.id for p in passengers(s, convoy))
        moved = apply_changes(
            s, convoy, [Change(first, Custody.VERIFIED), Change(second, Custody.VERIFIED)],
            at=at, actor="escort 7", location="蒲城县", stage="verified",
        )  # fmt: skip
        assert moved == 2
        # The same time written by SQLAlchemy, column types applied, for the third passenger.
        s.execute(update(_P).where(_P.c.id == third).values(custody_at=at))
    with session_scope() as s:
        raw = dict(s.execute(text("SELECT id, custody_at FROM passenger")).all())
        assert raw[first] == raw[second] == raw[third]
        moved_at = text("SELECT DISTINCT at FROM custody_event WHERE to_state = 'verified'")
        assert s.execute(moved_at).scalars().all() == [raw[third]]
        # Read back through the models: the same instant, time zone attached.
        events = (
            s.execute(
                select(CustodyEvent)
                .where(CustodyEvent.to_state == "verified")  # type: ignore[arg-type]
                .order_by(CustodyEvent.id)  # type: ignore[arg-type]
            )
            .scalars()
            .all()
        )
        assert [
            (e.passenger_id, e.from_state, e.to_state, e.actor, e.location) for e in events
        ] == [
            (first, "registered", "verified", "escort 7", "蒲城县"),
            (second, "registered", "verified", "escort 7", "蒲城县"),
        ]
        assert all(e.at == at.astimezone(UTC) for e in events)
        mustered = s.execute(select(Passenger).where(Passenger.id == first)).scalars().one()  # type: ignore[arg-type]
        assert (mustered.custody, mustered.custody_at) == ("verified", at.astimezone(UTC))
