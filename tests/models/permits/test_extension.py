"""Bulk extension: one idempotent, all-or-nothing change."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from config import Settings
from models.db import session_scope
from models.errors import NotFoundError, TransitionError, ValidationError
from models.permits.extension import add_months, extend_permits, policy_end
from models.permits.queries import get_application
from models.permits.records import permit_record
from models.permits.tables import PermitEvent
from tests.conftest import SHANGHAI
from tests.models.permits.conftest import apply, through


def test_bulk_extension_is_one_idempotent_change(settings: Settings) -> None:
    now = datetime(2020, 3, 25, 10, 0, tzinfo=SHANGHAI)
    soon = apply("浙B10001", valid_until=date(2020, 3, 27))
    later = apply("浙B10002", valid_until=date(2020, 4, 30))
    gone = apply("浙B10003", valid_until=date(2020, 3, 20))
    pending = apply("浙B10004", valid_until=date(2020, 3, 26))
    for n in (soon, later, gone):
        through(n, "deliver")
    through(pending, "route")
    with session_scope() as s:
        changed = extend_permits(s, date(2020, 4, 15), expiring_within_days=3, now=now)
    assert changed == [
        {
            "number": soon,
            "plate": "浙B10001",
            "unit": "宁波建工集团有限公司",
            "from": "2020-03-27",
            "to": "2020-04-15",
        }
    ]
    with session_scope() as s:
        assert extend_permits(s, date(2020, 4, 15), expiring_within_days=3, now=now) == []
        assert extend_permits(s, date(2020, 4, 15), numbers=[soon, later], now=now) == []
        events = s.execute(select(func.count()).where(PermitEvent.kind == "extended")).scalar_one()
        assert events == 1
        app = get_application(s, soon)
        assert permit_record(s, app, now=now)["valid_until"] == "2020-04-15"
    # all or nothing: one unknown number leaves every pass as it was
    with session_scope() as s, pytest.raises(NotFoundError):
        extend_permits(s, date(2020, 5, 1), numbers=[later, "TX-NOPE"], now=now)
    with session_scope() as s:
        assert permit_record(s, get_application(s, later))["valid_until"] == "2020-04-30"
    with session_scope() as s, pytest.raises(TransitionError, match="only an issued pass"):
        extend_permits(s, date(2020, 5, 1), numbers=[pending], now=now)
    with session_scope() as s, pytest.raises(ValidationError, match="either"):
        extend_permits(s, date(2020, 5, 1), now=now)
    with session_scope() as s, pytest.raises(ValidationError, match="already passed"):
        extend_permits(s, date(2020, 3, 1), expiring_within_days=3, now=now)


def test_the_emergency_policy_with_a_dry_run_first(settings: Settings) -> None:
    """Every pass expiring during the emergency → its end + 3 months; a dry run changes
    nothing; by unit or project only theirs; running it again changes nothing."""
    now = datetime(2020, 3, 17, 9, 0, tzinfo=SHANGHAI)
    a = apply("浙B10001", valid_until=date(2020, 3, 20), project="轨道交通3号线")
    b = apply("浙B10002", valid_until=date(2020, 3, 31), enterprise="宁波市政工程有限公司")
    late = apply("浙B10003", valid_until=date(2020, 4, 30))
    gone = apply("浙B10004", valid_until=date(2020, 3, 10))
    for n in (a, b, late, gone):
        through(n, "deliver")
    end = date(2020, 3, 31)

    def until(number: str) -> str:
        with session_scope() as s:
            return str(permit_record(s, get_application(s, number))["valid_until"])

    with session_scope() as s:
        planned = extend_permits(s, None, emergency_end=end, dry_run=True, now=now)
    assert [(c["number"], c["from"], c["to"]) for c in planned] == [
        (a, "2020-03-20", "2020-06-30"),
        (b, "2020-03-31", "2020-06-30"),
    ]
    assert until(a) == "2020-03-20" and until(b) == "2020-03-31"  # the dry run changed nothing
    with session_scope() as s:
        extended = s.execute(select(func.count()).where(PermitEvent.kind == "extended"))
        assert extended.scalar_one() == 0
    # by unit, by project: only theirs
    with session_scope() as s:
        by_unit = extend_permits(
            s, None, emergency_end=end, unit="宁波市政工程有限公司", dry_run=True, now=now
        )
        by_project = extend_permits(
            s, None, emergency_end=end, project="轨道交通3号线", dry_run=True, now=now
        )
    assert [c["number"] for c in by_unit] == [b] and [c["number"] for c in by_project] == [a]
    with session_scope() as s:
        assert extend_permits(s, None, emergency_end=end, now=now) == planned
    assert (until(a), until(b), until(late), until(gone)) == (
        "2020-06-30", "2020-06-30", "2020-04-30", "2020-03-10",
    )  # fmt: skip
    with session_scope() as s:
        assert extend_permits(s, None, emergency_end=end, now=now) == []  # idempotent
    with session_scope() as s, pytest.raises(ValidationError, match="either --policy or --until"):
        extend_permits(s, date(2020, 5, 1), emergency_end=end, now=now)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
       st.integers(min_value=0, max_value=36))  # fmt: skip
def test_whole_months_are_added_like_a_calendar(day: date, months: int) -> None:
    later = add_months(day, months)
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == months
    assert later.day == day.day or (later.day < day.day and (later + timedelta(days=1)).day == 1)
    assert policy_end(day) == add_months(day, 3)
