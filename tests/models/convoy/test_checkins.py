"""Check-ins that fit the convoy: stage, timeline, closed convoys, the future tolerance, naive
times, known enterprises; a refusal writes nothing. On the real database."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import col

from config import Settings
from models.convoy.checkins import SEQUENCE, Kind, record_checkin
from models.convoy.lifecycle import Stage
from models.convoy.operations import advance
from models.convoy.store import get_convoy
from models.convoy.tables import CheckIn, Enterprise, Position, StageRun
from models.db import session_scope, utcnow
from models.errors import TransitionError, ValidationError
from tests.conftest import ENTERPRISES, SHANGHAI

T0 = datetime(2020, 2, 20, 11, 0, tzinfo=SHANGHAI)
_codes = itertools.count(1)


def report(code: str, kind: str, payload: dict | None = None, at: datetime | None = None) -> int:
    with session_scope() as s:
        return record_checkin(s, code, kind, payload or {}, at=at).id or 0


def step(code: str, stage: Stage) -> str:
    with session_scope() as s:
        return advance(s, code, stage).status


def checkins(code: str) -> int:
    with session_scope() as s:
        convoy = get_convoy(s, code)
        q = select(func.count()).where(col(CheckIn.convoy_id) == convoy.id)
        return int(s.execute(q).scalar_one())


def refused(code: str, error: type[Exception], match: str, *args: object, **kw: object) -> None:
    before = checkins(code)
    with pytest.raises(error, match=match):
        report(code, *args, **kw)  # type: ignore[arg-type]
    assert checkins(code) == before  # nothing written


def to_departed(code: str) -> None:
    report(code, "muster", {}, T0)
    step(code, Stage.MUSTERING)
    step(code, Stage.VERIFIED)
    report(code, "screening", {"results": []}, T0 + timedelta(hours=1))
    step(code, Stage.SCREENED)
    report(code, "depart", {}, T0 + timedelta(hours=3))
    assert step(code, Stage.DEPARTED) == "done"


def test_an_arrival_before_the_departure_is_refused(make_convoy: Callable[..., str]) -> None:
    code = make_convoy("BUS-C1", n=4)
    refused(code, TransitionError, "no depart check-in yet", "arrive", {}, T0)
    to_departed(code)
    refused(code, ValidationError, "would come before the depart check-in", "arrive", {}, T0)
    refused(code, TransitionError, "already at stage departed", "depart", {}, T0)
    report(code, "arrive", {}, T0 + timedelta(hours=20))
    assert step(code, Stage.IN_TRANSIT) == "done"
    assert step(code, Stage.ARRIVED) == "done"
    with session_scope() as s:
        assert get_convoy(s, code).actual_arrival == T0 + timedelta(hours=20)


def test_a_report_dated_after_a_later_step_is_refused(make_convoy: Callable[..., str]) -> None:
    code = make_convoy("BUS-C2", n=4)
    report(code, "muster", {}, T0)
    report(code, "screening", {"results": []}, T0 + timedelta(hours=1))
    refused(
        code,
        ValidationError,
        "would come after the screening",
        "muster",
        {},
        T0 + timedelta(hours=2),
    )


def test_stage_times_are_the_check_in_times(make_convoy: Callable[..., str]) -> None:
    code = make_convoy("BUS-C3", n=4)
    to_departed(code)  # the muster is at 11:00, three hours before the planned 14:00
    assert step(code, Stage.IN_TRANSIT) == "done"
    with session_scope() as s:
        convoy = get_convoy(s, code)
        rows = s.execute(select(StageRun).where(col(StageRun.convoy_id) == convoy.id)).scalars()
        times = {r.stage: r.at for r in rows}
        assert convoy.actual_departure == T0 + timedelta(hours=3)
    assert times == {
        "mustering": T0,
        "verified": T0,
        "screened": T0 + timedelta(hours=1),
        "departed": T0 + timedelta(hours=3),
        "in_transit": T0 + timedelta(hours=3),
    }


def test_a_closed_convoy_takes_no_check_in(make_convoy: Callable[..., str]) -> None:
    code = make_convoy("BUS-C4", n=2)
    with session_scope() as s:
        get_convoy(s, code).stage = Stage.CLOSED.value
    for kind, payload in (("position", {"lat": 30.0, "lon": 120.0}), ("entry", {"seats": [1]})):
        refused(code, TransitionError, "is closed; it takes no more check-ins", kind, payload, T0)
    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(Position)).scalar_one() == 0


@pytest.mark.parametrize("source", ["cli", "http", "simulator"])
def test_one_future_tolerance_for_every_source(
    make_convoy: Callable[..., str], source: str
) -> None:
    code = make_convoy(f"BUS-F{source}", n=2)
    ahead = utcnow() + timedelta(days=365 * 3)
    before = checkins(code)
    with pytest.raises(ValidationError, match="later than the server clock"), session_scope() as s:
        record_checkin(s, code, "position", {"lat": 30.0, "lon": 120.0}, at=ahead, source=source)
    assert checkins(code) == before
    soon = utcnow() + timedelta(minutes=5)  # within the tolerance (10 min in rules.toml)
    with session_scope() as s:
        record_checkin(s, code, "position", {"lat": 30.0, "lon": 120.0}, at=soon, source=source)
    assert checkins(code) == before + 1


def test_naive_times_are_read_in_the_configured_zone(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-C5", n=3)
    report(code, "muster", {}, T0.replace(tzinfo=None))  # 11:00 in Asia/Shanghai
    step(code, Stage.MUSTERING)
    step(code, Stage.VERIFIED)
    nat = (T0 - timedelta(hours=6)).replace(tzinfo=None).isoformat()  # a file without zones
    results = [
        {"seat": n, "temperature": 36.5, "nat_result": "阴性", "nat_time": nat, "health_code": "绿"}
        for n in (1, 2, 3)
    ]
    report(code, "screening", {"results": results}, T0 + timedelta(hours=1))
    assert step(code, Stage.SCREENED) == "done"  # no crash comparing naive and aware times
    with session_scope() as s:
        convoy = get_convoy(s, code)
        muster = s.execute(select(CheckIn).where(col(CheckIn.kind) == "muster")).scalars().one()
        assert muster.at == T0
        screening = (
            s.execute(select(CheckIn).where(col(CheckIn.kind) == "screening")).scalars().one()
        )
        stored = datetime.fromisoformat(screening.payload["results"][0]["nat_time"])
        assert stored == T0 - timedelta(hours=6)
        assert get_convoy(s, code).stage == convoy.stage == "screened"


def test_a_handoff_names_a_known_enterprise_and_stores_it(
    make_convoy: Callable[..., str],
) -> None:
    code = make_convoy("BUS-C6", n=4)
    to_departed(code)
    report(code, "arrive", {}, T0 + timedelta(hours=20))
    report(code, "arrival_screening", {"results": []}, T0 + timedelta(hours=20, minutes=20))
    at = T0 + timedelta(hours=21)
    refused(
        code,
        ValidationError,
        "'宁波不存在公司' is not a known enterprise; a handoff of convoy BUS-C6 names one",
        "handoff",
        {"enterprise": "宁波不存在公司", "received_by": "王经理", "seats": [1]},
        at,
    )
    with session_scope() as s:
        s.add(Enterprise(name="宁波别家有限公司", norm_name="宁波别家"))
    refused(
        code, ValidationError, "has no worker on this convoy", "handoff",
        {"enterprise": "宁波别家有限公司", "received_by": "王经理"}, at,
    )  # fmt: skip
    report(code, "handoff", {"enterprise": "宁波甬丰模具", "received_by": "李主管"}, at)
    with session_scope() as s:
        ci = s.execute(select(CheckIn).where(col(CheckIn.kind) == "handoff")).scalars().one()
        ent = s.execute(select(Enterprise).where(col(Enterprise.name) == ENTERPRISES[1])).scalar()
        assert ent is not None
        assert (ci.payload["enterprise"], ci.payload["enterprise_id"]) == (ENTERPRISES[1], ent.id)


_KINDS = [k.value for k in SEQUENCE]


@hsettings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    reports=st.lists(
        st.tuples(st.sampled_from(_KINDS), st.integers(-600, 3000)), min_size=1, max_size=10
    )
)
def test_whatever_is_sent_the_stored_timeline_is_in_order(
    make_convoy: Callable[..., str], reports: list[tuple[str, int]]
) -> None:
    code = make_convoy(f"BUS-P{next(_codes)}", n=2)
    payloads = {
        "muster": {},
        "screening": {"results": []},
        "depart": {},
        "arrive": {},
        "arrival_screening": {"results": []},
        "handoff": {"enterprise": ENTERPRISES[0], "received_by": "王经理"},
    }
    for kind, minutes in reports:
        with contextlib.suppress(ValidationError, TransitionError):  # refused: nothing written
            report(code, kind, payloads[kind], T0 + timedelta(minutes=minutes))
    with session_scope() as s:
        convoy = get_convoy(s, code)
        rows = s.execute(
            select(CheckIn.kind, CheckIn.at)  # type: ignore[call-overload]
            .where(col(CheckIn.convoy_id) == convoy.id)
            .order_by(col(CheckIn.id))
        ).all()
    latest: dict[str, datetime] = {}
    for kind, at in rows:
        latest[kind] = at
    kinds = [k for k in _KINDS if k in latest]
    assert kinds == _KINDS[: len(kinds)]  # no step reported before the one it follows
    times = [latest[k] for k in kinds]
    assert times == sorted(times)
    assert all(Kind(k) in SEQUENCE for k in latest)
