"""Reading XLSX: python-calamine reads a workbook of values as openpyxl does, row for row."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from models.errors import ValidationError
from models.intake import sheets
from models.intake.manifest import parse_time
from models.intake.sheets import _xlsx_rows, _xlsx_rows_with_formulas

_VALUES = st.one_of(
    st.none(),
    st.text(max_size=12).map(lambda t: ILLEGAL_CHARACTERS_RE.sub("", t).lstrip("=")),
    st.integers(-(10**15), 10**15),
    st.integers(10**16, 10**18 - 1),  # an ID number typed as a number (15 digits kept)
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.datetimes(datetime(1990, 1, 1), datetime(2030, 1, 1)).map(
        lambda d: d.replace(microsecond=0)
    ),
    st.times().map(lambda t: t.replace(microsecond=0)),
)


def _rows(reader: object, path: Path) -> list[tuple[int, list[str]]]:
    with reader(path) as (stream, formulas):  # type: ignore[operator]
        out = [(n, _trimmed(cells)) for n, cells in stream]
        assert not formulas
    while out and not out[-1][1]:
        out.pop()  # openpyxl may read trailing empty rows a sheet's dimension names
    return out


def _trimmed(cells: list[str]) -> list[str]:
    while cells and cells[-1] == "":
        cells = cells[:-1]
    return cells


def _replace_in_sheet(path: Path, old: bytes, new: bytes) -> None:
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    member = "xl/worksheets/sheet1.xml"
    assert old in members[member]
    members[member] = members[member].replace(old, new)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)


def _save(ws_rows: list[list[object]], top: int, left: int, path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    for r, values in enumerate(ws_rows, start=1 + top):
        for c, v in enumerate(values, start=1 + left):
            if v is not None:
                ws.cell(row=r, column=c, value=v)
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(buf.getvalue())
    return path


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.lists(_VALUES, max_size=8), min_size=1, max_size=12),
    st.integers(0, 4),
    st.integers(0, 3),
)
def test_values_read_alike_by_either_reader_with_rows_numbered_as_excel_does(
    tmp_path_factory: pytest.TempPathFactory, grid: list[list[object]], top: int, left: int
) -> None:
    path = _save(grid, top, left, tmp_path_factory.mktemp("x") / "m.xlsx")
    assert _rows(_xlsx_rows, path) == _rows(_xlsx_rows_with_formulas, path)


def test_a_workbook_of_values_is_read_by_calamine_the_rest_by_openpyxl(tmp_path: Path) -> None:
    plain = _save([["姓名", "电话"], ["王伟", 13812345678]], 2, 1, tmp_path / "plain.xlsx")
    assert sheets._calamine_reads(plain)
    with _xlsx_rows(plain) as (stream, _):
        assert list(stream)[2:] == [(3, ["", "姓名", "电话"]), (4, ["", "王伟", "13812345678"])]
    # A formula, an error value pasted from a lookup, an exact 18-digit number: openpyxl.
    wb = Workbook()
    wb.active.append(["身份证号", "备注"])
    wb.active.append([None, "#N/A"])
    wb.active["B2"].data_type = "e"
    wb.save(tmp_path / "error.xlsx")
    assert not sheets._calamine_reads(tmp_path / "error.xlsx")
    with _xlsx_rows(tmp_path / "error.xlsx") as (stream, _):
        assert list(stream)[1] == (2, ["", "#N/A"])
    # openpyxl and Excel write 15 digits at most; another program may write all 18.
    long = _save([["身份证号"], [123]], 0, 0, tmp_path / "long.xlsx")
    _replace_in_sheet(long, b"<v>123</v>", b"<v>411400199110041043</v>")
    assert not sheets._calamine_reads(long)
    with _xlsx_rows(long) as (stream, _):
        assert list(stream)[1] == (2, ["411400199110041043"])
    formula = _save([["a", "b"], [1, "=A2+1"]], 0, 0, tmp_path / "formula.xlsx")
    with _xlsx_rows(formula) as (stream, lost):
        assert list(stream)[1] == (2, ["1", ""]) and lost == {2: [(1, "=A2+1")]}


def test_a_date_cell_reads_as_its_date_and_parses_as_openpyxl_reads_it(tmp_path: Path) -> None:
    path = _save(
        [["核酸时间", "时刻"], [date(2020, 2, 19), time(9, 30)]], 0, 0, tmp_path / "d.xlsx"
    )
    with _xlsx_rows(path) as (stream, _):
        row = list(stream)[1][1]
    with _xlsx_rows_with_formulas(path) as (stream, _):
        old = list(stream)[1][1]
    assert row == ["2020-02-19", "09:30:00"] and old[1] == row[1]
    tz = ZoneInfo("Asia/Shanghai")
    assert parse_time(row[0], tz) == parse_time(old[0], tz) == datetime(2020, 2, 19, tzinfo=tz)


@pytest.mark.parametrize("before", [(1 << 20) - 30, (1 << 20) - 10, (1 << 20) - 2, 1 << 20])
def test_the_scan_finds_a_long_number_across_two_chunks(tmp_path: Path, before: int) -> None:
    path = tmp_path / "big.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/worksheets/sheet1.xml", b" " * before + b"<v>411400199110041043</v>")
    assert not sheets._calamine_reads(path)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/worksheets/sheet1.xml", b" " * before + b"<v>4.11400199110041E+17</v>")
    assert sheets._calamine_reads(path)


def test_a_very_large_sheet_is_read_a_row_at_a_time_by_openpyxl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _save([["姓名", "电话"], ["王伟", 13812345678]], 0, 0, tmp_path / "m.xlsx")
    assert sheets._calamine_reads(path)
    with zipfile.ZipFile(path) as z:
        size = z.getinfo("xl/worksheets/sheet1.xml").file_size
    monkeypatch.setattr(sheets, "CALAMINE_MAX_SHEET_BYTES", size - 1)
    assert not sheets._calamine_reads(path)
    with _xlsx_rows(path) as (stream, _):
        assert list(stream) == [(1, ["姓名", "电话"]), (2, ["王伟", "13812345678"])]


def test_a_file_that_is_no_workbook_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "名单.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    assert sheets._calamine_reads(path)  # its error names the file
    refused = r"名单\.xlsx is not a readable Excel workbook"
    with pytest.raises(ValidationError, match=refused), _xlsx_rows(path) as (stream, _):
        list(stream)


def test_a_value_that_cannot_be_read_refuses_the_file_naming_the_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _save([["姓名"], ["王伟"], ["坏"]], 0, 0, tmp_path / "m.xlsx")
    assert sheets._calamine_reads(path)
    real = sheets.cell_text

    def cell_text(v: object) -> str:
        if v == "坏":
            raise ValueError("not a value")
        return real(v)

    monkeypatch.setattr(sheets, "cell_text", cell_text)
    damaged = r"m\.xlsx is damaged after row 2 \(ValueError\)"
    with pytest.raises(ValidationError, match=damaged), _xlsx_rows(path) as (stream, _):
        list(stream)
