"""The simulator plays the manifest's declared health data as the truth: a convoy it runs never
hands off someone the manifest marks as unfit (real flow, real Prefect server)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import select

from config import Settings
from models.convoy.store import get_convoy, passengers
from models.convoy.tables import ScreeningResult
from models.db import session_scope
from tests.conftest import SHANGHAI

NAT = datetime(2020, 2, 20, 8, 0, tzinfo=SHANGHAI)  # 6 h before the planned departure


def test_declared_unfit_passengers_are_never_handed_off(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    from flows.convoy import convoy_flow
    from flows.sim.escorts import simulated_escorts

    code = make_convoy("BUS-SIM", n=12)
    declared = {  # seat → what the manifest says
        1: {"health_code": "red"},
        2: {"nat_result": "positive"},
        3: {"temperature": 38.4},
        4: {"health_code": "yellow"},
        5: {"temperature": 37.3},  # exactly the threshold: a fever
        6: {"temperature": 36.4},
    }
    with session_scope() as s:
        for p in passengers(s, get_convoy(s, code)):
            p.health_code, p.nat_result, p.nat_time = "green", "negative", NAT
            for key, value in declared.get(p.seat, {}).items():
                setattr(p, key, value)
    with simulated_escorts([code], speed=0):
        result = convoy_flow(code, poll_seconds=0.05, max_wait_seconds=120)
    assert result["stage"] == "closed"
    with session_scope() as s:
        by_seat = {p.seat: p for p in passengers(s, get_convoy(s, code))}
        pre = select(ScreeningResult).where(ScreeningResult.checkpoint == "pre_departure")
        measured = {r.passenger_id: r.temperature for r in s.execute(pre).scalars()}
    reasons = {1: "red health code", 2: "positive", 3: "fever", 4: "yellow health code", 5: "fever"}
    for seat, why in reasons.items():
        p = by_seat[seat]
        assert p.custody != "handed_off", seat
        if p.id in measured:  # screened (not a no-show): held for what the manifest says
            assert p.custody == "held" and why in p.custody_reason, (seat, p.custody_reason)
    assert any(by_seat[s].custody == "handed_off" for s in range(6, 13))
    t6 = measured.get(by_seat[6].id)
    assert t6 is None or abs(t6 - 36.4) <= 0.3  # the listed temperature, small noise


def test_random_play_keeps_its_seeded_shape(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    """Without declared data the simulator still invents repeatable, plausible readings."""
    from flows.sim.simulator import ConvoySimulator

    code = make_convoy("BUS-SIM2", n=30)
    sim = ConvoySimulator(code, fever_rate=0.0)
    with session_scope() as s:
        readings = sim._screen(s)["results"]
    assert len(readings) == 30
    assert all(r["health_code"] == "green" and r["nat_result"] == "negative" for r in readings)
    assert all(34.0 <= r["temperature"] < 37.3 for r in readings)
    again = ConvoySimulator(code, fever_rate=0.0)
    with session_scope() as s:
        assert [r["temperature"] for r in again._screen(s)["results"]] == [
            r["temperature"] for r in readings
        ]


def test_play_goes_on_after_a_muster_taken_by_hand_today(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    """A convoy planned in 2020 whose muster roll was taken by hand now: the simulated escorts
    play the rest of the trip from there (the plan shifted by as much), and the flow closes."""
    from flows.convoy import convoy_flow
    from flows.sim.escorts import simulated_escorts
    from models.convoy.checkins import record_checkin
    from models.convoy.tables import CheckIn

    code = make_convoy("BUS-SIM3", n=6)
    with session_scope() as s:
        muster = record_checkin(s, code, "muster", {"absent": [3]}).at
    with simulated_escorts([code], speed=0) as (sim,):
        result = convoy_flow(code, poll_seconds=0.05, max_wait_seconds=120)
    assert result["stage"] == "closed"
    assert sim.shift.total_seconds() > 0
    with session_scope() as s:
        rows = s.execute(select(CheckIn).where(CheckIn.convoy_id == get_convoy(s, code).id))
        trip = [c for c in rows.scalars() if c.kind not in ("position", "entry")]
    assert [c.kind for c in trip][:3] == ["muster", "screening", "depart"]
    assert all(c.at > muster for c in trip[1:])  # played on after the hand-made muster
    assert {c.source for c in trip[1:]} == {"simulator"}


def test_a_failing_simulator_ends_the_flow_waiting_beside_it(
    make_convoy: Callable[..., str], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The simulated escorts stop on an error: the flow waiting for their reports does not
    wait for ever; the block raises the simulator's error."""
    from flows.convoy import convoy_flow
    from flows.sim import simulator
    from flows.sim.escorts import simulated_escorts
    from models.errors import ValidationError

    code = make_convoy("BUS-SIM4", n=4)

    def broken(self: simulator.ConvoySimulator, session: object) -> dict[str, object]:
        raise ValidationError("The screening check-in is invalid at results: broken on purpose.")

    monkeypatch.setattr(simulator.ConvoySimulator, "_screen", broken)
    with (
        pytest.raises(ValidationError, match="broken on purpose"),
        simulated_escorts([code], speed=0),
    ):
        convoy_flow(code, poll_seconds=0.05)  # no time limit: only the error ends it
    with session_scope() as s:
        assert get_convoy(s, code).stage == "verified"


def test_a_failing_simulator_in_a_campaign_ends_its_own_convoy_flow(
    make_convoy: Callable[..., str], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a campaign each convoy's flow runs in a worker thread beside its escorts: a failing
    simulator ends that flow with its error, raised to the caller of the campaign (not as an
    interrupt of the main thread, wherever it happens to be), and the other convoy closes."""
    from flows.campaign import campaign_flow
    from flows.sim import simulator
    from models.errors import ValidationError

    broken_code, good_code = make_convoy("BUS-SIM5", n=4), make_convoy("BUS-SIM6", n=4, seed=2)
    screen = simulator.ConvoySimulator._screen

    def broken(self: simulator.ConvoySimulator, session: object) -> dict[str, object]:
        if self.code == broken_code:
            raise ValidationError("The screening check-in is broken on purpose.")
        return screen(self, session)  # type: ignore[arg-type]

    monkeypatch.setattr(simulator.ConvoySimulator, "_screen", broken)
    with pytest.raises(ValidationError, match="broken on purpose"):
        campaign_flow("test campaign", [broken_code, good_code], poll_seconds=0.05,
                      max_wait_seconds=300, concurrency=2, simulate_speed=0)  # fmt: skip
    with session_scope() as s:
        assert get_convoy(s, broken_code).stage == "verified"
        assert get_convoy(s, good_code).stage == "closed"
