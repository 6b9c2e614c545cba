"""Fleet applications: one application for many vehicles, from a list with its bad rows
reported (row, column, reason; nothing lost), and one numbered pass per vehicle on issue."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from hypothesis import strategies as st
from openpyxl import Workbook

from config import Settings
from models.db import session_scope
from models.errors import ValidationError
from models.permits.fleet import read_fleet
from models.permits.lifecycle import Vehicle, apply_for_permit, deliver_permit, issue_permit
from models.permits.queries import get_application, get_permits, get_vehicles
from models.permits.records import permit_record
from tests.models.permits.conftest import T0, apply, through

ROWS = [
    ["序号", "车牌号", "车辆类型", "驾驶员", "联系电话"],
    ["1", "浙B·12345", "渣土车", "张师傅", "13805740001"],
    ["2", "浙BI2345", "渣土车", "", ""],  # I is never on a plate
    ["3", "浙BD12345", "", "王师傅", "23805740003"],  # no type and a bad phone
    ["4", "浙B12345", "渣土车", "", ""],  # twice in the list
    ["5", "粤B12345F", "混凝土搅拌车", "", ""],  # large new-energy
    ["6", "浙BD1234X", "渣土车", "", ""],  # 8 characters but not a new-energy plate
    ["", "", "", "", ""],
    ["7", "浙B54321", "渣土车", "", ""],  # on another open application
]


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(["宁波建工 施工车辆清单"])
        w.writerow(["报送日期：2020年2月20日"])
        w.writerows(rows)
    return path


def _xlsx(path: Path, rows: list[list[str]]) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(["宁波建工 施工车辆清单"])
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_fleet_list_reports_every_bad_row_and_loses_nothing(
    settings: Settings, tmp_path: Path, kind: str
) -> None:
    apply("浙B54321")
    path = (_csv if kind == "csv" else _xlsx)(tmp_path / f"fleet.{kind}", ROWS)
    with session_scope() as s:
        vehicles, report = read_fleet(s, path)
    assert [v.plate for v in vehicles] == ["浙B12345", "粤B12345F"]
    assert vehicles[0] == Vehicle("浙B12345", "渣土车", "张师傅", "13805740001")
    assert report.read == 7 and report.rejected == 5  # the blank row is not a row
    found = {(n, p.column, p.code) for n, p in report.problems}
    h = report.header_row  # found below the title row(s)
    assert h == (3 if kind == "csv" else 2)
    assert found == {
        (h + 2, "车牌号", "bad_plate"),
        (h + 3, "车辆类型", "missing_type"),
        (h + 3, "联系电话", "bad_phone"),
        (h + 4, "车牌号", "duplicate_plate"),
        (h + 6, "车牌号", "bad_plate"),
        (h + 8, "车牌号", "open_application"),
    }
    errors = report.files["errors_csv"]
    assert errors is not None and errors.exists()
    text = errors.read_text(encoding="utf-8-sig")
    assert "plates never use the letters I and O" in text and "13805740003" not in text
    assert "238****0003" in text  # masked
    fixing = report.files["for_fixing"]
    assert fixing is not None and fixing.suffix == f".{kind}"
    # a default type fills the rows without one
    with session_scope() as s:
        vehicles, report = read_fleet(s, path, default_type="渣土车")
    assert "missing_type" not in {p.code for _, p in report.problems}


def test_a_clean_list_removes_the_old_reports(settings: Settings, tmp_path: Path) -> None:
    path = _csv(tmp_path / "fleet.csv", ROWS[:2])
    bad = _csv(tmp_path / "fleet.csv", ROWS)
    with session_scope() as s:
        _, report = read_fleet(s, bad)
    assert report.files["errors_csv"] is not None
    path = _csv(tmp_path / "fleet.csv", [ROWS[0], ROWS[1], ROWS[5]])
    with session_scope() as s:
        vehicles, report = read_fleet(s, path)
    assert len(vehicles) == 2 and report.rejected == 0
    assert not (settings.output_dir / "permits" / "fleets" / "fleet.errors.csv").exists()
    empty = _csv(tmp_path / "empty.csv", ROWS[:1])
    with session_scope() as s, pytest.raises(ValidationError, match="no vehicle rows"):
        read_fleet(s, empty)


def test_one_application_gets_one_numbered_pass_per_vehicle(settings: Settings) -> None:
    trucks = [Vehicle(f"浙B{40000 + i}", "渣土车") for i in range(12)]
    with session_scope() as s:
        app = apply_for_permit(
            s, enterprise="宁波建工集团有限公司", site_name="北仑工地", place="北仑",
            vehicles=trucks, valid_until=date(2020, 3, 31), at=T0,
        )  # fmt: skip
        number = app.number
    through(number, "route")
    with session_scope() as s:
        permits = issue_permit(s, number, at=T0 + timedelta(hours=5))
        assert [p.number for p in permits] == [f"{number}-{i:03d}" for i in range(1, 13)]
        app = get_application(s, f"{number}-007")  # a pass number finds its application
        assert app.number == number and app.status == "issued"
        vehicles = {v.id: v.plate for v in get_vehicles(s, app)}
        assert [vehicles[p.vehicle_id or 0] for p in get_permits(s, app)] == [
            t.plate for t in trucks
        ]
        record = permit_record(s, app)
        assert record["plate"] == "浙B40000 +11" and len(record["passes"]) == 12
    # a plate of an open fleet application cannot be applied for again
    with pytest.raises(ValidationError, match="浙B40003 already has an open application"):
        apply("浙B40003")
    with session_scope() as s:  # one pass handed over by its number; the others wait
        app = get_application(s, number)
        done = deliver_permit(s, f"{number}-007", to="王经理", at=T0 + timedelta(hours=6))
        assert [p.number for p in done] == [f"{number}-007"] and app.status == "issued"
        done = deliver_permit(s, number, to="李经理", at=T0 + timedelta(hours=7))
        assert len(done) == 11 and app.status == "delivered"


def test_fleet_mistakes_are_one_sentence(settings: Settings) -> None:
    def file(vehicles: list[Vehicle]) -> None:
        with session_scope() as s:
            apply_for_permit(
                s, enterprise="x", site_name="工地", place="北仑", vehicles=vehicles,
                valid_until=date(2099, 1, 1), at=datetime(2020, 2, 20, 9, tzinfo=T0.tzinfo),
            )  # fmt: skip

    with pytest.raises(ValidationError, match="at least one vehicle"):
        file([])
    with pytest.raises(ValidationError, match="浙B12345 is given twice"):
        file([Vehicle("浙B12345", "渣土车"), Vehicle("浙b·12345", "渣土车")])
    with pytest.raises(ValidationError, match="vehicle type of 浙B12345 is required"):
        file([Vehicle("浙B12345")])
    with pytest.raises(ValidationError, match="driver's phone of 浙B12345"):
        file([Vehicle("浙B12345", "渣土车", "张", "12345")])


_CELLS = st.one_of(
    st.sampled_from(["浙B12345", "浙BD12345", "粤B12345F", "浙B1234挂", "浙BI2345", "B12345",
                     "浙b·54321", "", "浙B123456789", "=cmd()", "13812345678"]),
    st.text(max_size=10),
)  # fmt: skip


@settings_(max_examples=30, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.lists(st.tuples(_CELLS, st.sampled_from(["渣土车", ""]), _CELLS), max_size=12))
def test_every_row_of_a_fleet_list_is_a_vehicle_or_reported(
    settings: Settings, tmp_path: Path, rows: list[tuple[str, str, str]]
) -> None:
    path = tmp_path / "fleet.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["车牌号", "车辆类型", "联系电话"])
        w.writerows(rows)
    try:
        with session_scope() as s:
            vehicles, report = read_fleet(s, path)
    except ValidationError as exc:  # a file with no vehicle rows at all, in one sentence
        assert "no vehicle rows" in str(exc) or "cannot be read" in str(exc)
        return
    assert len(vehicles) + report.rejected == report.read
    assert len({v.plate for v in vehicles}) == len(vehicles)
    assert {n for n, _ in report.problems} <= set(range(2, report.read + 2 + len(rows)))
