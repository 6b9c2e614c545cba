"""Per-convoy summaries read through the bare driver equal those read through the ORM's session
(SQLite here, PostgreSQL under ``make test-pg``), and every figure equals a direct count."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from config import Settings
from models.convoy.lifecycle import Custody, Stage
from models.convoy.store import get_convoy
from models.convoy.tables import Passenger, Position, StageRun
from models.db import session_rows, session_scope
from models.dbapi import reading
from models.errors import NotFoundError
from models.labels import labels
from models.views.reports import convoy_summary
from models.views.summaries import convoy_summaries
from tests.conftest import SHANGHAI


def _under_way(make_convoy: Callable[..., str]) -> tuple[str, str]:
    """Two convoys; the first mustered, one held, three positions, arrived 25 min late."""
    first, second = make_convoy("BUS-S1", n=12), make_convoy("BUS-S2", n=5, seed=2)
    with session_scope() as session:
        convoy = get_convoy(session, first)
        ids = session.execute(
            select(col(Passenger.id)).where(Passenger.convoy_id == convoy.id)
        ).scalars()
        session.execute(
            update(Passenger).where(col(Passenger.id) == next(iter(ids))).values(custody="held")
        )
        mustered = datetime(2020, 2, 20, 13, 0, tzinfo=SHANGHAI)
        session.add(
            StageRun(
                convoy_id=convoy.id or 0,
                stage=Stage.MUSTERING.value,
                at=mustered,
                summary={"present": 11, "absent": 1, "census": {"registered": 11}, "ok": True},
            )
        )
        for minutes in (0, 30, 60):
            at = mustered + timedelta(minutes=minutes)
            session.add(Position(convoy_id=convoy.id or 0, at=at, lat=34.9, lon=109.5))
        convoy.actual_arrival = convoy.planned_arrival + timedelta(minutes=25)
        session.add(convoy)
    return first, second


def test_the_driver_and_the_session_give_the_same_summaries(
    settings: Settings, make_convoy: Callable[..., str]
) -> None:
    first, second = _under_way(make_convoy)
    with reading(settings) as plain:
        assert "_runner" in plain.__qualname__  # the database is at the newest schema
        read = convoy_summaries(plain)
        one = convoy_summaries(plain, code=second)
    with session_scope() as session:
        assert convoy_summaries(session_rows(session)) == read
        assert convoy_summary(session, second) == one[0]
        held = session.execute(
            select(func.count()).where(col(Passenger.custody) == Custody.HELD.value)
        ).scalar_one()
    assert [s["code"] for s in read] == [first, second]
    s = read[0]
    assert (s["passengers"], s["held"], s["in_custody"]) == (12, held, 11)
    assert s["by_state"] == {"held": 1, "registered": 11}
    assert (s["positions"], s["late_minutes"], s["escorts"]) == (3, 25, 0)
    assert s["planned_arrival"] == "2020-02-21 16:00" and s["actual_arrival"] == "2020-02-21 16:25"
    # Only the plain values of a stage's summary are shown (the nested census is not).
    assert s["stages"] == [
        {"stage": "mustering", "label": labels("stages", settings.locale)[Stage.MUSTERING],
         "at": "2020-02-20 13:00", "present": 11, "absent": 1, "ok": True}
    ]  # fmt: skip
    assert read[1]["stages"] == [] and read[1]["actual_arrival"] == ""


def test_a_campaign_and_an_unknown_code(
    settings: Settings, make_convoy: Callable[..., str]
) -> None:
    make_convoy("BUS-S1")
    with reading(settings) as rows:
        assert [s["code"] for s in convoy_summaries(rows, campaign="test campaign")] == ["BUS-S1"]
        assert convoy_summaries(rows, campaign="no such campaign") == []
        with pytest.raises(NotFoundError, match=r"no convoy with the code 'BUS-S9'.*BUS-S1\?"):
            convoy_summaries(rows, code="BUS-S9")
