"""Bulk extension: one idempotent, all-or-nothing change."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from config import Settings
from models.db import session_scope
from models.errors import NotFoundError, TransitionError, ValidationError
from models.permits.extension import extend_permits
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
