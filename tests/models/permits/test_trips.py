"""Delivery by project: one trip carries many passes of a major project; who received each
pass and when; a printable delivery list."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from config import Settings
from models.db import session_scope
from models.errors import NotFoundError, TransitionError, ValidationError
from models.permits.lifecycle import Vehicle, apply_for_permit, issue_permit, survey_site
from models.permits.queries import get_application
from models.permits.records import permit_record
from models.permits.stats import permit_figures
from models.permits.trips import (
    deliver_trip,
    get_trip,
    plan_trip,
    project_summary,
    trip_record,
    write_delivery_list,
)
from tests.models.permits.conftest import PHONE, T0, through

PROJECT = "宁波轨道交通3号线"


def _fleet(enterprise: str, plates: list[str], project: str = PROJECT) -> str:
    with session_scope() as s:
        number = apply_for_permit(
            s, enterprise=enterprise, site_name=f"{enterprise}工地", place="北仑",
            vehicles=[Vehicle(p, "渣土车") for p in plates], project=project,
            contact_name="陈经理", contact_phone=PHONE, valid_until=date(2020, 3, 31), at=T0,
        ).number  # fmt: skip
    through(number, "route")
    with session_scope() as s:
        issue_permit(s, number, at=T0 + timedelta(hours=5))
    return number


def test_a_trip_per_project_carries_its_passes_and_records_who_received_them(
    settings: Settings, tmp_path: Path
) -> None:
    a = _fleet("宁波建工集团有限公司", ["浙B10001", "浙B10002", "浙BD10003"])
    b = _fleet("宁波市政工程有限公司", ["浙B20001", "浙B20002"])
    other = _fleet("梅山港区建设有限公司", ["浙B30001"], project="梅山港区二期")
    t = T0 + timedelta(hours=6)
    with session_scope() as s:
        trip = plan_trip(s, PROJECT, at=t, officer="NB3001")
        number = trip.number
        assert number == "SD-20200220-0001"
        record = trip_record(s, trip)
    assert record["passes"] == 5 and record["delivered"] == 0 and record["status"] == "planned"
    assert {r["unit"] for r in record["list"]} == {"宁波建工集团有限公司", "宁波市政工程有限公司"}
    assert all(r["phone"] == "138****5678" for r in record["list"])
    with session_scope() as s, pytest.raises(ValidationError, match="no issued pass waiting"):
        plan_trip(s, PROJECT, at=t)  # every pass is on the open trip
    # some passes received at the first gate, the rest later by someone else
    with session_scope() as s:
        done = deliver_trip(s, number, to="王经理", numbers=[f"{a}-001", f"{a}-002"],
                            at=t + timedelta(hours=1))  # fmt: skip
        assert [p.number for p in done] == [f"{a}-001", f"{a}-002"]
        assert get_trip(s, number).status == "out"
        assert get_application(s, a).status == "issued"  # not all its passes yet
    with session_scope() as s:
        done = deliver_trip(s, number, to="陈经理", at=t + timedelta(hours=2))
        assert len(done) == 3 and get_trip(s, number).status == "done"
        passes = {p["number"]: p for p in permit_record(s, get_application(s, a))["passes"]}
        assert passes[f"{a}-001"]["delivered_to"] == "王经理"
        assert passes[f"{a}-003"]["delivered_to"] == "陈经理"
        assert passes[f"{a}-003"]["delivered_at"] == "2020-02-20 17:00"
        assert passes[f"{a}-003"]["trip"] == number
        assert get_application(s, b).status == "delivered"
        assert get_application(s, other).status == "issued"  # another project's trip
        record = trip_record(s, get_trip(s, number))
        figures = permit_figures(s)
        summary = {r["project"]: r for r in project_summary(s)}
    assert figures["passes_issued"] == 6 and figures["units_served"] == 3
    assert figures["passes_delivered"] == 5 and figures["passes_same_day_rate"] == 1.0
    assert summary[PROJECT]["delivered"] == 5 and summary[PROJECT]["trips"] == 1
    assert summary["梅山港区二期"]["waiting"] == 1
    # the printable list, three ways
    html = write_delivery_list(record, tmp_path / "list.html").read_text(encoding="utf-8")
    assert "通行证送达清单 SD-20200220-0001" in html and "浙BD10003" in html and PHONE not in html
    rows = list(csv.reader(write_delivery_list(record, tmp_path / "list.csv").open(
        encoding="utf-8-sig")))  # fmt: skip
    assert rows[0][:3] == ["序号", "通行证编号", "车牌号"] and len(rows) == 6
    ws = load_workbook(write_delivery_list(record, tmp_path / "list.xlsx")).active
    assert ws.max_row == 7 and ws.cell(3, 8).value in ("王经理", "陈经理")
    with pytest.raises(ValidationError, match=r"must end in \.html, \.xlsx or \.csv"):
        write_delivery_list(record, tmp_path / "list.pdf")


def test_trip_mistakes_are_one_sentence(settings: Settings) -> None:
    a = _fleet("宁波建工集团有限公司", ["浙B10001", "浙B10002"])
    t = T0 + timedelta(hours=6)
    with session_scope() as s, pytest.raises(NotFoundError, match="project '无此项目'"):
        plan_trip(s, "无此项目", at=t)
    with session_scope() as s, pytest.raises(NotFoundError, match="TX-NOPE is not a pass"):
        plan_trip(s, PROJECT, numbers=["TX-NOPE"], at=t)
    with session_scope() as s:
        number = plan_trip(s, PROJECT, numbers=[f"{a}-002"], at=t).number
    with session_scope() as s, pytest.raises(NotFoundError, match=f"{a}-001 is not on trip"):
        deliver_trip(s, number, to="王经理", numbers=[f"{a}-001"], at=t)
    with session_scope() as s, pytest.raises(ValidationError, match="recorded after that"):
        deliver_trip(s, number, to="王经理", at=t - timedelta(hours=1))
    with session_scope() as s, pytest.raises(ValidationError, match="received the pass"):
        deliver_trip(s, number, to=" ", at=t)
    with session_scope() as s, pytest.raises(NotFoundError, match="no delivery trip"):
        get_trip(s, "SD-19990101-0001")
    _fleet("宁波市政工程有限公司", ["浙B20001"])
    with session_scope() as s:
        other = plan_trip(s, PROJECT, at=t)  # the rest: a-001 and the new one
        assert trip_record(s, other)["passes"] == 2
    with session_scope() as s:
        deliver_trip(s, number, to="王经理", at=t + timedelta(hours=1))
    with session_scope() as s, pytest.raises(ValidationError, match="delivered already"):
        plan_trip(s, PROJECT, numbers=[f"{a}-002"], at=t + timedelta(hours=2))
    with session_scope() as s, pytest.raises(TransitionError, match="is issued; it can only"):
        survey_site(s, a, ok=True, at=t + timedelta(hours=2))
