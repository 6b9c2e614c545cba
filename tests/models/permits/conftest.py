"""Shared by the vehicle-pass tests: filing an application and taking it through the steps."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from models.db import session_scope
from models.permits.lifecycle import (
    Via,
    apply_for_permit,
    deliver_permit,
    issue_permit,
    plan_route,
    survey_site,
)
from tests.conftest import SHANGHAI

T0 = datetime(2020, 2, 20, 9, 0, tzinfo=SHANGHAI)
PHONE = "13812345678"


def apply(plate: str = "浙B12345", at: datetime = T0, **kw: Any) -> str:
    fields: dict[str, Any] = {
        "enterprise": "宁波建工集团有限公司",
        "contact_name": "王经理",
        "contact_phone": PHONE,
        "vehicle_type": "渣土车",
        "site_name": "北仑工地",
        "place": "北仑",
        "valid_until": date(2020, 3, 31),
        "at": at,
        **kw,
    }
    with session_scope() as s:
        return apply_for_permit(s, plate=plate, **fields).number


def through(number: str, last: str, at: datetime = T0, step: timedelta | None = None) -> None:
    """Take an application through the officer's steps up to ``last``."""
    step = step or timedelta(minutes=30)
    t = at
    with session_scope() as s:
        for name in ("survey", "route", "issue", "deliver"):
            t += step
            if name == "survey":
                survey_site(s, number, ok=True, at=t)
            elif name == "route":
                plan_route(s, number, ["宁波站", Via("北仑港区", 29.93, 121.85)], at=t)
            elif name == "issue":
                issue_permit(s, number, at=t)
            else:
                deliver_permit(s, number, to="王经理", at=t)
            if name == last:
                return
