"""Issuing many units' passes at once: the same records, history and checks as the steps one
by one, written in bulk with one audit record."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from config import Settings
from models.access.audit import AuditEvent
from models.db import session_scope
from models.errors import ValidationError
from models.permits.bulk import UnitRequest, issue_batch
from models.permits.lifecycle import Vehicle
from models.permits.queries import get_application
from models.permits.records import permit_record
from models.permits.stats import permit_figures
from tests.models.permits.conftest import T0, apply

STEPS = dict(route=["宁波站", "北仑"], applied_at=T0, surveyed_at=T0 + timedelta(hours=1),
             routed_at=T0 + timedelta(hours=2), issued_at=T0 + timedelta(hours=5))  # fmt: skip


def _unit(name: str, plates: list[str]) -> UnitRequest:
    return UnitRequest(name, f"{name}工地", [Vehicle(p, "渣土车") for p in plates],
                       date(2020, 3, 31), place="北仑", contact_phone="13812345678")  # fmt: skip


def test_a_batch_is_the_steps_one_by_one_in_bulk(settings: Settings) -> None:
    with session_scope() as s:
        numbers = issue_batch(
            s, [_unit("甲公司", ["浙B10001"]), _unit("乙公司", ["浙B20001", "浙BD20002"])], **STEPS
        )
    assert numbers == ["TX-20200220-0001", "TX-20200220-0002"]
    with session_scope() as s:
        one = permit_record(s, get_application(s, numbers[0]), events=True, now=T0)
        two = permit_record(s, get_application(s, numbers[1]), now=T0)
        figures = permit_figures(s)
        audit = list(s.execute(select(AuditEvent).where(AuditEvent.action == "permit.batch")))
    assert [e["kind"] for e in one["events"]] == ["applied", "surveyed", "route_planned", "issued"]
    assert one["route"] == ["宁波站", "北仑区"] and one["status"] == "issued"
    assert [p["number"] for p in one["passes"]] == ["TX-20200220-0001"]
    assert [p["number"] for p in two["passes"]] == ["TX-20200220-0002-001", "TX-20200220-0002-002"]
    assert two["phone"] == "138****5678" and two["valid_until"] == "2020-03-31"
    assert figures["passes_issued"] == 3 and figures["units_served"] == 2
    assert len(audit) == 1
    # a plate of an open application, twice in a batch, or steps out of order: nothing written
    apply("浙B30001", at=T0)
    for units, steps, message in (
        ([_unit("丙公司", ["浙B30001"])], STEPS, "浙B30001 already has an open application"),
        ([_unit("丙公司", ["浙B40001"]), _unit("丁公司", ["浙b40001"])], STEPS, "given twice"),
        ([_unit("丙公司", ["浙B40001"])], {**STEPS, "issued_at": T0}, "must be in order"),
    ):
        with session_scope() as s, pytest.raises(ValidationError, match=message):
            issue_batch(s, units, **steps)  # type: ignore[arg-type]
    with session_scope() as s:
        assert permit_figures(s)["passes_issued"] == 3
