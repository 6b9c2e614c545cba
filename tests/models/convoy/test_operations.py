"""The stage steps on a real SQLite database, driven by check-ins (no Prefect)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from models.convoy.checkins import record_checkin
from models.convoy.custody import census, replay, states
from models.convoy.lifecycle import Custody, Stage
from models.convoy.operations import advance, arrival_sample, hold_or_withdraw
from models.convoy.store import get_convoy, lock_convoy, passengers
from models.convoy.tables import CustodyEvent, ScreeningResult, StageRun
from models.db import session_scope
from models.errors import ConservationError, TransitionError, ValidationError
from tests.conftest import ENTERPRISES, SHANGHAI

T0 = datetime(2020, 2, 20, 11, 0, tzinfo=SHANGHAI)


def step(code: str, stage: Stage) -> str:
    with session_scope() as s:
        return advance(s, code, stage).status


def report(code: str, kind: str, payload: dict, at: datetime) -> None:
    with session_scope() as s:
        record_checkin(s, code, kind, payload, at=at)


def good(seats: range, at: datetime) -> list[dict]:
    return [
        {
            "seat": n,
            "temperature": 36.5,
            "nat_result": "阴性",
            "nat_time": (at - timedelta(hours=10)).isoformat(),
            "health_code": "绿",
        }
        for n in seats
    ]


def run_to_arrival(code: str) -> None:
    report(code, "muster", {"absent": [2]}, T0)
    assert step(code, Stage.MUSTERING) == "done"
    assert step(code, Stage.VERIFIED) == "done"
    results = good(range(1, 21), T0)
    results[4]["temperature"] = 38.4  # seat 5: fever, no re-measure
    results[5]["temperature"] = 37.6  # seat 6: fever, fine after rest
    results[5]["retemperature"] = 36.9
    results[6]["health_code"] = "红"  # seat 7: red code
    report(code, "screening", {"results": results}, T0 + timedelta(hours=1))
    assert step(code, Stage.SCREENED) == "done"
    report(code, "depart", {"absent": [9], "reason": "changed his mind"}, T0 + timedelta(hours=3))
    assert step(code, Stage.DEPARTED) == "done"
    assert step(code, Stage.IN_TRANSIT) == "done"
    report(code, "arrive", {}, T0 + timedelta(hours=29))
    assert step(code, Stage.ARRIVED) == "done"


def test_a_convoy_runs_from_muster_to_close(make_convoy: Callable[..., str]) -> None:
    code = make_convoy()
    assert step(code, Stage.MUSTERING) == "waiting"  # no muster roll yet
    run_to_arrival(code)
    report(
        code,
        "arrival_screening",
        {"results": [{"seat": 1, "temperature": 36.4, "health_code": "green"}]},
        T0 + timedelta(hours=29, minutes=20),
    )
    assert step(code, Stage.ARRIVAL_SCREENED) == "done"
    report(
        code,
        "handoff",
        {"enterprise": ENTERPRISES[0], "received_by": "王经理"},
        T0 + timedelta(hours=30),
    )
    assert step(code, Stage.HANDED_OFF) == "waiting"  # the second enterprise has not come
    with session_scope() as s:
        c = census(s, get_convoy(s, code).id)
        assert c.handed_off > 0 and c.count(Custody.ARRIVED) > 0
    report(
        code,
        "handoff",
        {"enterprise": "宁波甬丰模具", "received_by": "李主管"},
        T0 + timedelta(hours=31),
    )  # normalised name matches 宁波甬丰模具有限公司
    assert step(code, Stage.HANDED_OFF) == "done"
    assert step(code, Stage.CLOSED) == "done"
    with session_scope() as s:
        convoy = get_convoy(s, code)
        c = census(s, convoy.id)
        assert convoy.stage == "closed"
        assert (c.total, c.withdrawn, c.held, c.in_custody) == (20, 2, 2, 0)
        assert c.handed_off == 16
        by_seat = {p.seat: p for p in passengers(s, convoy)}
        assert by_seat[5].custody == "held" and "fever 38.4" in by_seat[5].custody_reason
        assert by_seat[6].custody == "handed_off"
        assert by_seat[7].custody == "held" and "red" in by_seat[7].custody_reason
        assert by_seat[2].custody_reason == "did not show at muster"
        assert by_seat[9].custody_reason == "changed his mind"
        assert by_seat[5].custody_location == "陕西省渭南市蒲城县"
        # The event log replays to the passenger table, and the stage log is complete.
        assert replay(s, convoy.id) == states(s, convoy.id)
        assert s.execute(select(func.count()).select_from(StageRun)).scalar_one() == 9
        screened = s.execute(select(func.count()).select_from(ScreeningResult)).scalar_one()
        assert screened == 19 + 1  # before departure (19 present) + 1 spot check


def test_handoffs_read_together_move_each_passenger_once(make_convoy: Callable[..., str]) -> None:
    """Two handoffs waiting for one try of the step, naming some of the same people: each
    passenger is handed off once, by the first handoff that names them."""
    code = make_convoy()
    run_to_arrival(code)
    report(code, "arrival_screening", {"results": []}, T0 + timedelta(hours=29, minutes=20))
    assert step(code, Stage.ARRIVAL_SCREENED) == "done"
    at = T0 + timedelta(hours=30)
    first = {"enterprise": ENTERPRISES[0], "received_by": "甲", "seats": [1, 3]}
    report(code, "handoff", first, at)
    report(code, "handoff", {"enterprise": ENTERPRISES[0], "received_by": "乙"}, at)
    assert step(code, Stage.HANDED_OFF) == "waiting"  # the second enterprise has not come
    with session_scope() as s:
        convoy = get_convoy(s, code)
        by_seat = {p.seat: p for p in passengers(s, convoy)}
        handed = s.execute(
            select(CustodyEvent.passenger_id, func.count())  # type: ignore[call-overload]
            .where(CustodyEvent.convoy_id == convoy.id, CustodyEvent.to_state == "handed_off")
            .group_by(CustodyEvent.passenger_id)
        ).all()
        assert handed and all(n == 1 for _, n in handed)
        assert {by_seat[1].custody_reason, by_seat[3].custody_reason} == {"received by 甲"}
        others = [p for n, p in by_seat.items() if n % 2 == 1 and n not in (1, 3)]
        assert {p.custody_reason for p in others if p.custody == "handed_off"} == {"received by 乙"}
        assert len(handed) == sum(1 for p in by_seat.values() if p.custody == "handed_off")
        assert replay(s, convoy.id) == states(s, convoy.id)


def test_every_step_is_idempotent(make_convoy: Callable[..., str]) -> None:
    code = make_convoy()
    run_to_arrival(code)
    with session_scope() as s:
        before = s.execute(select(func.count()).select_from(CustodyEvent)).scalar_one()
    for stage in (Stage.MUSTERING, Stage.VERIFIED, Stage.SCREENED, Stage.DEPARTED, Stage.ARRIVED):
        assert step(code, stage) == "skipped"
    with session_scope() as s:
        after = s.execute(select(func.count()).select_from(CustodyEvent)).scalar_one()
    assert after == before


def test_steps_cannot_be_skipped(make_convoy: Callable[..., str]) -> None:
    code = make_convoy()
    with pytest.raises(TransitionError, match="can only move to mustering"):
        step(code, Stage.DEPARTED)


def test_cannot_close_with_passengers_in_custody(make_convoy: Callable[..., str]) -> None:
    code = make_convoy()
    run_to_arrival(code)
    report(code, "arrival_screening", {"results": []}, T0 + timedelta(hours=30))
    assert step(code, Stage.ARRIVAL_SCREENED) == "done"
    with session_scope() as s:  # force the order: try to close right after arrival screening
        convoy = get_convoy(s, code)
        convoy.stage = Stage.HANDED_OFF.value
    with pytest.raises(ConservationError, match="cannot close: 16 passenger"):
        step(code, Stage.CLOSED)


def test_failed_verification_holds_the_passenger(make_convoy: Callable[..., str]) -> None:
    code = make_convoy(n=5)
    with session_scope() as s:
        convoy = get_convoy(s, code)
        p = passengers(s, convoy)[0]
        p.id_number = p.id_number[:17] + ("0" if p.id_number[17] != "0" else "1")
    report(code, "muster", {}, T0)
    step(code, Stage.MUSTERING)
    step(code, Stage.VERIFIED)
    with session_scope() as s:
        p = passengers(s, get_convoy(s, code))[0]
        assert p.custody == "held"
        assert (
            p.custody_reason == "failed pre-verification: the check digit of the ID number is wrong"
        )


def test_checkins_are_checked_against_the_manifest(make_convoy: Callable[..., str]) -> None:
    code = make_convoy(n=5)
    with pytest.raises(ValidationError, match="no passenger in seat"):
        report(code, "muster", {"absent": [99]}, T0)
    with pytest.raises(ValidationError, match="not a kind of check-in"):
        report(code, "teleport", {}, T0)
    with pytest.raises(ValidationError, match="received_by"):
        report(code, "handoff", {"enterprise": "x", "received_by": ""}, T0)
    with pytest.raises(ValidationError, match="health code"):
        report(code, "screening", {"results": [{"seat": 1, "health_code": "blue"}]}, T0)


def test_a_convoy_being_worked_on_holds_up_its_own_reports_only(
    make_convoy: Callable[..., str],
) -> None:
    """A step's lock (``lock_convoy``) makes a check-in of its convoy wait until it commits;
    another convoy's check-in is written meanwhile (on SQLite too: reading and working hold
    only the convoy's turn, not the database's one writer)."""
    mine, other = make_convoy("BUS-T1"), make_convoy("BUS-T2", seed=2)
    written: list[str] = []
    errors: list[BaseException] = []

    def muster(code: str) -> None:
        try:
            report(code, "muster", {"absent": []}, T0)
            written.append(code)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    with session_scope() as s:
        lock_convoy(s, mine)
        same = threading.Thread(target=muster, args=(mine,))
        same.start()
        another = threading.Thread(target=muster, args=(other,))
        another.start()
        another.join(20)
        same.join(0.3)
        assert written == [other] and same.is_alive(), errors
    same.join(20)
    assert not errors, errors
    assert written == [other, mine]


def test_hold_at_any_point_keeps_everyone_accounted(make_convoy: Callable[..., str]) -> None:
    code = make_convoy(n=5)
    with session_scope() as s:
        p = hold_or_withdraw(
            s, code, 3, Custody.HELD, "vomiting, to hospital", at=T0, actor="NB1", location="服务区"
        )
        assert p.custody == "held"
    with pytest.raises(TransitionError, match="final"), session_scope() as s:
        hold_or_withdraw(s, code, 3, Custody.WITHDRAWN, "again", at=T0, actor="NB1")


def test_arrival_sample_is_stable_and_sized(make_convoy: Callable[..., str]) -> None:
    code = make_convoy(n=5)
    with session_scope() as s:
        convoy = get_convoy(s, code)
        a = arrival_sample(convoy, list(range(1, 101)), 0.1)
        assert a == arrival_sample(convoy, list(range(1, 101)), 0.1)
        assert len(a) == 10 and set(a) <= set(range(1, 101))
        assert len(arrival_sample(convoy, [1, 2], 0.1)) == 1


def test_the_activity_mark_changes_with_what_a_step_reads_only(
    make_convoy: Callable[..., str],
) -> None:
    """A waiting step is tried again when the mark changes: on a check-in a step reads, a
    hold, a stage done; not on a position report (a train sends dozens while its arrival step
    waits)."""
    from models.convoy.checkins import FEEDS
    from models.convoy.store import activity_mark

    def _activity(code: str) -> object:
        with session_scope() as s:
            return activity_mark(s, code, [kind.value for kind in FEEDS])

    code = make_convoy(n=4)
    marks = [_activity(code)]
    report(code, "position", {"lat": 34.9, "lon": 109.6}, T0)
    marks.append(_activity(code))
    assert marks[-1] == marks[-2]
    report(code, "muster", {"absent": []}, T0)
    marks.append(_activity(code))
    assert marks[-1] != marks[-2]
    assert step(code, Stage.MUSTERING) == "done"
    marks.append(_activity(code))
    assert marks[-1] != marks[-2]
    with session_scope() as s:
        hold_or_withdraw(s, code, 2, Custody.HELD, "fever at the gate", at=T0, actor="NB1")
    marks.append(_activity(code))
    assert marks[-1] != marks[-2]


def test_screening_results_are_stored_as_judged(make_convoy: Callable[..., str]) -> None:
    """The results go to the driver in bulk: read back, the times, readings and verdicts are
    those of the check-in (times in UTC, as every stored time)."""
    code = make_convoy()
    run_to_arrival(code)
    with session_scope() as s:
        convoy = get_convoy(s, code)
        seat_of = {p.id: p.seat for p in passengers(s, convoy)}
        rows = {
            seat_of[r.passenger_id]: r
            for r in s.execute(select(ScreeningResult)).scalars()
            if r.checkpoint == "pre_departure"
        }
    at = T0 + timedelta(hours=1)
    assert sorted(rows) == [n for n in range(1, 21) if n != 2]  # seat 2 did not show
    assert {r.at for r in rows.values()} == {at} and rows[1].at.tzinfo is not None
    assert rows[1].nat_time == T0 - timedelta(hours=10)  # as ``good`` reports it
    assert rows[1].location == "陕西省渭南市蒲城县"
    assert (rows[5].temperature, rows[5].passed) == (38.4, False) and "fever" in rows[5].reason
    assert (rows[6].retemperature, rows[6].passed, rows[6].reason) == (36.9, True, "")
    assert rows[7].health_code == "red" and rows[7].passed is False  # "红", normalised
    assert rows[1].passed is True and rows[1].convoy_id == convoy.id
