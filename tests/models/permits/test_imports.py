"""Import of existing passes and applications: Chinese headers below a title, every bad row
reported like a manifest import, an application whole or not at all, idempotent."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from config import Settings
from models.db import session_scope
from models.permits.imports import import_passes, parse_when
from models.permits.queries import get_application
from models.permits.records import permit_record
from tests.conftest import SHANGHAI
from tests.models.permits.conftest import apply

HEADER = ["申请编号", "通行证编号", "申请单位", "联系人", "联系电话", "车牌号", "车辆类型",
          "工地名称", "项目名称", "所在区域", "有效期起", "有效期止", "发证日期", "签收人",
          "送达时间"]  # fmt: skip
UNIT = "宁波梅山港区建设有限公司"


def _row(app: str, number: str, plate: str, **kw: str) -> list[str]:
    v = {"申请编号": app, "通行证编号": number, "申请单位": UNIT, "联系人": "周经理",
         "联系电话": "13905740101", "车牌号": plate, "车辆类型": "渣土车",
         "工地名称": "梅山二期工地", "项目名称": "梅山港区二期", "所在区域": "北仑",
         "有效期起": "2020-02-15", "有效期止": "2020-03-20", "发证日期": "2020/2/15",
         "签收人": "周经理", "送达时间": "2020-02-15 17:00", **kw}  # fmt: skip
    return [v[h] for h in HEADER]


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(["已发放车辆通行证台账（2020年2月）"])
        w.writerow(HEADER)
        w.writerows(rows)
    return path


GOOD = [
    _row("TX-20200215-9001", "TX-20200215-9001-001", "浙B71001"),
    _row("TX-20200215-9001", "TX-20200215-9001-002", "浙BD71002"),
    _row("", "TX-20200216-9002", "浙B71003", 签收人="", 送达时间="", 申请单位="鄞州市政公司"),
    _row("TX-20200216-9003", "", "浙B71004", 发证日期="", 签收人="", 送达时间="",
         申请单位="江北建设公司"),
]  # fmt: skip


def test_an_import_is_idempotent_and_keeps_the_passes_as_they_were(
    settings: Settings, tmp_path: Path
) -> None:
    path = _write(tmp_path / "passes.csv", GOOD)
    with session_scope() as s:
        first = import_passes(s, path)
    assert (first.read, first.imported, first.already, first.rejected) == (4, 4, 0, 0)
    assert (first.applications, first.passes) == (3, 3)
    assert first.header_row == 2
    with session_scope() as s:
        fleet = permit_record(s, get_application(s, "TX-20200215-9001-002"), events=True)
        single = permit_record(s, get_application(s, "TX-20200216-9002"))
        filed = permit_record(s, get_application(s, "TX-20200216-9003"))
    assert fleet["status"] == "expired" and fleet["project"] == "梅山港区二期"
    assert [(p["number"], p["plate"], p["status"]) for p in fleet["passes"]] == [
        ("TX-20200215-9001-001", "浙B71001", "delivered"),
        ("TX-20200215-9001-002", "浙BD71002", "delivered"),
    ]
    assert fleet["passes"][0]["delivered_at"] == "2020-02-15 17:00"
    assert fleet["events"][0]["kind"] == "imported" and fleet["phone"] == "139****0101"
    assert single["passes"][0]["status"] == "issued" and single["valid_until"] == "2020-03-20"
    assert filed["passes"] == [] and filed["status"] == "applied"
    with session_scope() as s:
        again = import_passes(s, path)
    assert (again.read, again.imported, again.already, again.rejected) == (4, 0, 4, 0)
    assert again.applications == 0


def test_bad_rows_are_reported_and_an_application_is_imported_whole(
    settings: Settings, tmp_path: Path
) -> None:
    apply("浙B88888")  # an open application
    with session_scope() as s:
        import_passes(s, _write(tmp_path / "before.csv", GOOD[2:3]))
    rows = [
        _row("TX-20200301-0001", "TX-20200301-0001-001", "浙B72001"),
        _row("TX-20200301-0001", "TX-20200301-0001-002", "浙BI2002"),  # bad plate: both out
        _row("", "TX-20200216-9002", "浙B72003"),  # the number is another truck's pass
        _row("", "TX-20200302-0004", "浙B88888"),  # on an open application
        _row("", "TX-20200302-0005", "浙B72005", 有效期止="2020-13-01"),
        _row("", "", "浙B72006"),  # no number at all
        _row("", "TX-20200302-0007", "浙B72007", 签收人=""),  # a delivery without who
        _row("", "TX-20200302-0008", "浙B72008", 所在区域="火星基地", 工地名称="火星基地"),
        _row("", "TX-20200302-0009", "浙B72009"),  # good
    ]
    with session_scope() as s:
        report = import_passes(s, _write(tmp_path / "mixed.csv", rows))
    assert (report.read, report.imported, report.rejected) == (9, 1, 8)
    assert report.reasons == {
        "application_incomplete": 1, "bad_plate": 1, "pass_conflict": 1,
        "open_application": 1, "bad_date": 1, "missing_number": 1,
        "incomplete_delivery": 1, "unknown_place": 1,
    }  # fmt: skip
    errors = report.files["errors_csv"]
    assert errors is not None
    lines = list(csv.DictReader(errors.open(encoding="utf-8-sig")))
    found = {(int(r["row"]), r["code"]) for r in lines}
    assert found >= {(3, "application_incomplete"), (4, "bad_plate"), (5, "pass_conflict")}
    assert all("13905740101" not in r["value"] for r in lines)
    fixing = report.files["for_fixing"]
    assert fixing is not None
    fix_rows = list(csv.reader(fixing.open(encoding="utf-8-sig")))
    assert len(fix_rows) == 1 + 8 and fix_rows[0][-2:] == ["_row", "_reason"]


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)),
       st.integers(0, 23), st.integers(0, 59),
       st.sampled_from(["{d:%Y-%m-%d}", "{d.year}/{d.month}/{d.day}",
                        "{d.year}年{d.month}月{d.day}日", "{d:%Y-%m-%d} {h:02d}:{m:02d}",
                        "{d:%Y-%m-%d}T{h:02d}:{m:02d}:00"]))  # fmt: skip
def test_dates_are_read_as_sheets_write_them(day: date, h: int, m: int, form: str) -> None:
    when = parse_when(form.format(d=day, h=h, m=m), SHANGHAI)
    assert when is not None and when.date() == day and when.tzinfo is SHANGHAI
    assert (when.hour, when.minute) == ((h, m) if "{h" in form else (0, 0))


@given(st.text(max_size=20))
def test_anything_else_is_not_a_date(text: str) -> None:
    when = parse_when(text, SHANGHAI)
    assert when is None or isinstance(when, datetime)
    assert parse_when("2020-02-30", SHANGHAI) is None and parse_when("31/03/2020", SHANGHAI) is None


def test_a_new_application_never_takes_an_imported_number(
    settings: Settings, tmp_path: Path
) -> None:
    row = _row("", "TX-20200220-0002", "浙B73001")  # the number the next one would get (id 2)
    with session_scope() as s:
        import_passes(s, _write(tmp_path / "one.csv", [row]))
    assert apply("浙B73002") == "TX-20200220-0002-A"
