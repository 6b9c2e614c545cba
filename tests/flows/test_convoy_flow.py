"""The convoy flow end to end through Prefect, with simulated escorts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from prefect.client.orchestration import get_client
from sqlalchemy import func, select

from config import Settings
from flows.convoy import convoy_flow
from flows.sim.escorts import simulated_escorts
from models.convoy.custody import census, replay, states
from models.convoy.lifecycle import Stage, check_conservation
from models.convoy.store import get_convoy
from models.convoy.tables import CheckIn, CustodyEvent, Passenger, StageRun
from models.db import session_scope


def test_flow_runs_a_convoy_to_closed(make_convoy: Callable[..., str], settings: Settings) -> None:
    code = make_convoy("BUS-F1", n=60)
    with simulated_escorts([code], speed=0):
        result = convoy_flow(code, poll_seconds=0.05, max_wait_seconds=120)
    assert result["stage"] == "closed"
    assert result["passengers"] == 60
    assert result["in_custody"] == 0
    assert result["handed_off"] + result["held"] + result["withdrawn"] == 60
    assert Path(result["map"]).exists()
    with session_scope() as s:
        convoy = get_convoy(s, code)
        check_conservation(census(s, convoy.id), Stage.CLOSED)
        assert replay(s, convoy.id) == states(s, convoy.id)
        assert [r.stage for r in s.execute(select(StageRun).order_by(StageRun.id)).scalars()] == [
            st.value for st in Stage if st is not Stage.PLANNED
        ]
        assert convoy.actual_arrival is not None and convoy.actual_departure is not None


def test_second_run_changes_nothing(make_convoy: Callable[..., str], settings: Settings) -> None:
    code = make_convoy("BUS-F2", n=30)
    with simulated_escorts([code], speed=0):
        first = convoy_flow(code, poll_seconds=0.05, max_wait_seconds=120)

    def counts() -> tuple[int, int, int, int]:
        with session_scope() as s:
            return tuple(  # type: ignore[return-value]
                s.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (CustodyEvent, StageRun, CheckIn, Passenger)
            )

    before = counts()
    with simulated_escorts([code], speed=0):
        second = convoy_flow(code, poll_seconds=0.05, max_wait_seconds=120)
    assert counts() == before
    assert {k: v for k, v in second.items() if k != "map"} == {
        k: v for k, v in first.items() if k != "map"
    }


def test_flow_attaches_map_link_and_summary(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-F3", n=10)
    with simulated_escorts([code], speed=0):
        convoy_flow(code, poll_seconds=0.05, max_wait_seconds=120)

    async def artifacts() -> dict[str, str]:
        async with get_client() as client:
            arts = await client.read_artifacts()
        return {a.key: str(a.data) for a in arts if a.key and a.key.startswith("convoy-bus-f3")}

    found = asyncio.run(artifacts())
    assert set(found) == {"convoy-bus-f3-map", "convoy-bus-f3-summary"}
    assert "BUS-F3.html" in found["convoy-bus-f3-map"]
    # The summary carries the stage table: one row per completed stage, closed last.
    summary = found["convoy-bus-f3-summary"].splitlines()
    table = summary[summary.index("| stage | at | details |") + 2 :]
    assert len(table) == 9 and table[0].count("|") == 4
    # Artifacts carry counts, never ID numbers or phones.
    with session_scope() as s:
        people = s.execute(select(Passenger.id_number, Passenger.phone)).all()
    for text in found.values():
        for idn, phone in people:
            assert idn not in text and phone not in text
