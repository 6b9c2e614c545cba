"""Bulk manifest import on a real database: counts and codes, report files, seats, re-imports,
employers, cross-convoy duplicates, real XLSX/GBK files, and fuzzing that never loses a row."""

from __future__ import annotations

import csv
import random
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from sqlalchemy import event, func, select

from config import Settings
from models.convoy.custody import replay, states
from models.convoy.store import get_convoy, passengers, upsert_enterprise
from models.convoy.tables import CustodyEvent, Passenger
from models.db import get_engine, session_scope
from models.errors import ValidationError
from models.intake.identity import synthetic_id
from models.intake.importer import import_manifest
from tests.conftest import ENTERPRISES

HEADER = ["姓名", "身份证号", "手机号", "用工企业", "健康码", "体温", "备注"]


def ids(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [synthetic_id(rng, "330225") for _ in range(n)]


def write(
    path: Path, rows: list[list[str]], encoding: str = "utf-8-sig", header: list[str] = HEADER
) -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def good_rows(n: int, seed: int = 7) -> list[list[str]]:
    return [
        [f"工人{i}", idn, f"138{i:08d}", ENTERPRISES[i % 2], "绿", "36.5", f"note {i}"]
        for i, idn in enumerate(ids(n, seed))
    ]


def do_import(code: str, path: Path) -> dict:
    with session_scope() as s:
        return import_manifest(s, code, path).as_dict()


def seats(code: str) -> list[int]:
    with session_scope() as s:
        return [p.seat for p in passengers(s, get_convoy(s, code))]


def report_rows(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_import_counts_files_and_idempotency(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-I1", n=0)
    rows = good_rows(10)
    bad_id = rows[3][1][:17] + ("0" if rows[3][1][17] != "0" else "1")
    rows[3][1] = bad_id  # check digit: rejected
    rows[5][2] = "15412345678"  # a mobile prefix phonenumbers does not know: imported, flagged
    rows[7][3] = "宁波甬丰模具厂"  # unknown employer, with a close match: rejected
    rows[8][0] = ""  # no name …
    rows[8][2] = "123"  # … and a bad phone: both reported
    rows.append(list(rows[0]))  # duplicate in the file
    f = write(tmp_path / "m.csv", rows)
    r = do_import(code, f)
    assert (r["read"], r["imported"], r["rejected"], r["warnings"]) == (11, 7, 4, 1)
    assert r["imported"] + r["rejected"] == r["read"] and r["header_row"] == 1
    assert r["reasons"] == {"id_invalid": 1, "unknown_employer": 1, "missing_field": 1,
                            "duplicate_in_file": 1}  # fmt: skip
    assert r["warning_reasons"] == {"phone_invalid": 1}
    assert r["unknown_columns"] == ["备注"]
    # Error report: masked values, every problem of a row; CSV and XLSX agree.
    errors = report_rows(r["errors_csv"])
    assert {(x["row"], x["level"], x["code"]) for x in errors if x["row"] == "10"} == {
        ("10", "error", "missing_field"), ("10", "warning", "phone_invalid")
    }  # fmt: skip
    text = Path(r["errors_csv"]).read_text(encoding="utf-8-sig")
    assert bad_id not in text and rows[0][1] not in text and f"{bad_id[:4]}**********" in text
    warned = report_rows(r["warnings_csv"])
    assert [(x["row"], x["value"]) for x in warned] == [("7", "154****5678")]
    wb = load_workbook(r["errors_file"], read_only=True)
    assert wb.sheetnames == ["errors", "warnings"]
    assert len(list(wb["errors"].values)) == len(errors) + 1
    assert len(list(wb["warnings"].values)) == 2
    unknown = next(x for x in errors if x["code"] == "unknown_employer")
    assert "did you mean" in unknown["reason"]
    # The file for fixing keeps the original rows, says why, and is for its owner only.
    assert stat.S_IMODE(Path(r["fixing_file"]).stat().st_mode) == 0o600
    fixing = report_rows(r["fixing_file"])
    assert [x["身份证号"] for x in fixing] == [bad_id, rows[7][1], rows[8][1], rows[0][1]]
    assert fixing[0]["_row"] == "5" and "check digit" in fixing[0]["_reason"]
    # Same file again: nothing new, the same rejections.
    again = do_import(code, f)
    assert (again["added"], again["already"], again["rejected"]) == (0, 7, 4)
    # Fix the rows in the file for fixing and import it: only the fixed rows are added, at the
    # seats they would have had (their source rows).
    fixing[1]["用工企业"] = "宁波甬丰模具有限公司"
    fixing[2]["姓名"] = "工人8"
    fixed = tmp_path / "m.for-fixing.csv"
    with fixed.open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.DictWriter(fh, fieldnames=list(fixing[0]))
        w.writeheader()
        w.writerows(fixing)
    third = do_import(code, fixed)
    assert (third["read"], third["added"], third["rejected"]) == (4, 2, 1)
    assert third["already"] == 1  # the duplicate of row 2 is already on the manifest
    assert third["warning_reasons"] == {"phone_invalid": 1}
    with session_scope() as s:
        convoy = get_convoy(s, code)
        people = passengers(s, convoy)
        assert [p.seat for p in people] == [2, 3, 4, 6, 7, 8, 9, 10, 11]
        assert replay(s, convoy.id) == states(s, convoy.id)  # one registration event each
        assert people[0].extra == {"备注": "note 0"}
        assert "_reason" not in people[-1].extra and "_row" not in people[-1].extra
        assert next(p for p in people if p.seat == 7).phone == "15412345678"


def test_reports_are_replaced_only_by_a_successful_import(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-I2", n=0)
    rows = good_rows(3)
    rows[1][1] = rows[1][1][:17]
    f = write(tmp_path / "m.csv", rows)
    first = do_import(code, f)
    assert first["reasons"] == {"id_invalid": 1}
    assert Path(first["errors_csv"]).exists() and Path(first["fixing_file"]).exists()
    f.write_bytes(f.read_bytes() + b"\xff\xfe broken")  # a failed import …
    with pytest.raises(ValidationError, match="neither UTF-8 nor GBK"):
        do_import(code, f)
    assert Path(first["errors_csv"]).exists() and Path(first["fixing_file"]).exists()  # … keeps
    assert sorted(p.name for p in Path(first["errors_csv"]).parent.iterdir()) == [
        "m.errors.csv", "m.errors.xlsx", "m.for-fixing.csv"
    ]  # fmt: skip
    rows[1][1] = ids(3)[1]
    write(f, rows)
    second = do_import(code, f)  # a clean one removes them
    assert second["rejected"] == 0 and second["errors_file"] is None
    assert not Path(first["errors_csv"]).exists() and not Path(first["fixing_file"]).exists()


def test_employer_matching_never_guesses(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-I3", n=0)
    with session_scope() as s:  # two enterprises that differ only by 股份
        upsert_enterprise(s, "宁波甬城电子有限公司")
        upsert_enterprise(s, "宁波甬城电子股份有限公司")
    written = [
        "象山示范针织",  # suffix-insensitive, unique
        " 象山 示范针织有限公司 ",  # spacing
        "象山示范针织（有限公司）",  # punctuation
        "象山示范针织有限公司",  # exact
        "ｘ象山示范针织",  # a full-width letter: another name
        "宁波甬城电子有限公司",  # exact
        "宁波甬城电子股份有限公司",  # exact
        "宁波甬城电子",  # fits both
        "宁波甬城电子股份公司",  # fits both
        "宁波 甬城电子股份有限公司",  # spacing: one
    ]
    rows = [
        [f"工人{i}", idn, "", v, "", "", ""]
        for i, (idn, v) in enumerate(zip(ids(10), written, strict=True))
    ]
    r = do_import(code, write(tmp_path / "m.csv", rows))
    assert (r["added"], r["rejected"]) == (7, 3)
    assert r["reasons"] == {"unknown_employer": 1, "ambiguous_employer": 2}
    ambiguous = [x for x in report_rows(r["errors_csv"]) if x["code"] == "ambiguous_employer"]
    assert all("宁波甬城电子有限公司" in x["reason"] and "宁波甬城电子股份有限公司" in x["reason"]
               for x in ambiguous)  # fmt: skip
    with session_scope() as s:
        by_seat = {p.seat: p.employer for p in passengers(s, get_convoy(s, code))}
        ent = {p.employer: p.enterprise_id for p in passengers(s, get_convoy(s, code))}
        assert len({ent[by_seat[k]] for k in (2, 3, 4, 5)}) == 1
        assert ent[by_seat[7]] != ent[by_seat[8]]
        assert ent[by_seat[11]] == ent[by_seat[8]]


def test_one_person_cannot_ride_two_convoys(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    a, b = make_convoy("BUS-A", n=0), make_convoy("BUS-B", n=0)
    f = write(tmp_path / "m.csv", good_rows(4))
    assert do_import(a, f)["added"] == 4
    r = do_import(b, f)
    assert (r["added"], r["rejected"], r["reasons"]) == (0, 4, {"duplicate_other_convoy": 4})
    assert all("already on convoy BUS-A" in x["reason"] for x in report_rows(r["errors_csv"]))
    with session_scope() as s:  # once convoy A is closed the people are free again
        get_convoy(s, a).stage = "closed"
    assert do_import(b, f)["added"] == 4


def test_riders_of_other_convoys_are_found_in_every_chunk_of_a_long_manifest(
    make_convoy: Callable[..., str],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import models.intake.importer as importer

    monkeypatch.setattr(importer, "LOOKUP_CHUNK", 7)  # 40 rows: six chunks, the last short
    a, b = make_convoy("BUS-A", n=0), make_convoy("BUS-B", n=0)
    rows = good_rows(40)
    riders = [rows[i] for i in (0, 6, 7, 20, 39)]  # first and last of chunks, the last row
    assert do_import(a, write(tmp_path / "a.csv", riders))["added"] == 5
    r = do_import(b, write(tmp_path / "b.csv", rows))
    assert (r["added"], r["rejected"], r["reasons"]) == (35, 5, {"duplicate_other_convoy": 5})
    assert sorted(int(x["row"]) for x in report_rows(r["errors_csv"])) == [2, 8, 9, 22, 41]


def test_a_manifest_is_read_and_checked_whole_before_its_first_write(
    make_convoy: Callable[..., str],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SQLite has one writer: an import of a manifest that fits one insert chunk (any real
    one) holds it for its inserts only, not while it parses and looks rows up."""
    import models.intake.importer as importer

    monkeypatch.setattr(importer, "LOOKUP_CHUNK", 7)  # 30 rows: five chunks looked up
    code = make_convoy("BUS-W", n=0)
    f = write(tmp_path / "m.csv", good_rows(30))
    seen: list[str] = []  # in order: "row" for each row read, "write" for each write
    real = importer.check_rows

    def counting(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        for out in real(*args, **kwargs):  # type: ignore[arg-type]
            seen.append("row")
            yield out

    def statement(_c: object, _cur: object, sql: str, *_: object) -> None:
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            seen.append("write")

    monkeypatch.setattr(importer, "check_rows", counting)
    engine = get_engine(settings)
    event.listen(engine, "before_cursor_execute", statement)
    try:
        assert do_import(code, f)["added"] == 30
    finally:
        event.remove(engine, "before_cursor_execute", statement)
    assert seen.count("row") == 30 and "write" in seen
    assert seen.index("write") > max(i for i, x in enumerate(seen) if x == "row")


def test_import_refused_after_planning(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-I4", n=1)
    with session_scope() as s:
        get_convoy(s, code).stage = "mustering"
    with pytest.raises(ValidationError, match="only be imported while it is planned"):
        do_import(code, write(tmp_path / "m.csv", good_rows(1)))


def test_seats_are_the_sheets_own_numbers(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-SEAT", n=0)
    header = ["序号", *HEADER]
    numbers = [1, 2, 5, 9, 1103, 1104]  # gaps, as a real list has after deletions
    rows = [[str(k), *r] for k, r in zip(numbers, good_rows(6), strict=True)]
    rows[2][2] = rows[2][2][:10]  # seat 5 rejected
    f = write(tmp_path / "m.csv", rows, header=header)
    r = do_import(code, f)
    assert (r["added"], r["rejected"]) == (5, 1)
    assert seats(code) == [1, 2, 9, 1103, 1104]
    with session_scope() as s:
        p = next(p for p in passengers(s, get_convoy(s, code)) if p.seat == 1103)
        assert p.name == "工人4"
    rows[2][2] = ids(6)[2]  # fixed: it takes its own seat, the others stay
    assert do_import(code, write(f, rows, header=header))["added"] == 1
    assert seats(code) == [1, 2, 5, 9, 1103, 1104]
    # Another file numbering from 1 again: the seats are taken, not renumbered.
    other = [[str(k), *r] for k, r in zip([1, 7, 7], good_rows(3, seed=8), strict=True)]
    r = do_import(code, write(tmp_path / "n.csv", other, header=header))
    assert (r["added"], r["reasons"]) == (1, {"seat_taken": 1, "duplicate_seat": 1})
    assert seats(code) == [1, 2, 5, 7, 9, 1103, 1104]


def test_a_conflicting_reimport_is_reported_not_absorbed(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-CONF", n=0)
    rows = good_rows(3)
    f = write(tmp_path / "m.csv", rows)
    assert do_import(code, f)["added"] == 3
    rows[0][0] = "别人"  # same ID, another name
    rows[1][2] = "13999999999"  # same ID, another phone
    r = do_import(code, write(f, rows))
    assert (r["read"], r["already"], r["rejected"], r["conflicts"]) == (3, 1, 2, 2)
    assert r["reasons"] == {"id_conflict": 2}
    reasons = [x["reason"] for x in report_rows(r["errors_csv"])]
    assert "another name 工*" in reasons[0] and "another phone 138****0001" in reasons[1]
    with session_scope() as s:
        people = passengers(s, get_convoy(s, code))
        assert [p.name for p in people] == ["工人0", "工人1", "工人2"]
        assert people[1].phone == "13800000001"


def test_a_stale_test_is_a_warning(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-NAT", n=0)  # departs 2020-02-20 14:00, tests valid 48 h
    header = ["姓名", "身份证号", "用工企业", "核酸结果", "核酸检测时间"]
    people = ids(2)
    rows = [
        ["甲", people[0], ENTERPRISES[0], "阴性", "2020-02-19 09:00"],
        ["乙", people[1], ENTERPRISES[0], "阴性", "2020-02-17 09:00"],
    ]
    r = do_import(code, write(tmp_path / "m.csv", rows, header=header))
    assert (r["imported"], r["warnings"], r["warning_reasons"]) == (2, 1, {"nat_stale": 1})
    assert "77 h old at the planned departure" in report_rows(r["warnings_csv"])[0]["reason"]


def title_workbook(path: Path, rows: list[list[object]], header: list[str] = HEADER) -> Path:
    """A workbook as the field sends it: a merged title row, a note, a blank row, the header."""
    wb = Workbook()
    ws = wb.active
    ws.append(["河南省周口市返甬复工人员名单（第一批）"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws.append(["填报单位：周口市人社局", None, None, "联系电话：15151235120"])
    ws.append([])
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def test_real_xlsx_title_rows_merged_cells_formulas_and_numbers(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-XL", n=0)
    people = ids(5)
    rows: list[list[object]] = [
        ["工人0", people[0], 13800000000.0, ENTERPRISES[0], "绿", 36.5, None],  # phone as float
        ["工人1", int(people[1]) if people[1][-1] != "X" else people[1], 13800000001,
         ENTERPRISES[1], "绿", "=36+0.6", None],  # ID as a whole number, formula temperature
        ["工人2", float(people[2]) if people[2][-1] != "X" else "1.0E+17", "13800000002",
         ENTERPRISES[0], "绿", 36.4, None],  # ID typed as a number: digits lost
        ["=A5", people[3], None, ENTERPRISES[0], None, None, None],  # unsaved formula name
        ["工人4", people[4], "13800000004", "=D5", None, None, None],  # unsaved formula employer
    ]  # fmt: skip
    f = title_workbook(tmp_path / "x.xlsx", rows)
    r = do_import(code, f)
    assert r["header_row"] == 4
    assert (r["read"], r["imported"], r["rejected"]) == (5, 2, 3)
    assert r["reasons"]["formula_unsaved"] == 2 and r["reasons"]["id_invalid"] == 1
    assert r["warning_reasons"] == {"formula_unsaved": 1}  # the temperature reads as empty
    errors = report_rows(r["errors_csv"])
    assert any("stored as a number and lost digits" in x["reason"] for x in errors)
    assert r["fixing_file"].endswith(".xlsx")
    kept = list(load_workbook(r["fixing_file"]).active.values)
    assert kept[0][-2:] == ("_row", "_reason") and "formula" in kept[2][-1]
    with session_scope() as s:
        got = {p.seat: p for p in passengers(s, get_convoy(s, code))}
    assert sorted(got) == [5, 6]  # the sheet's row numbers under a four-row top
    assert got[5].phone == "13800000000" and got[6].id_number == people[1]


def test_gbk_file(make_convoy: Callable[..., str], settings: Settings, tmp_path: Path) -> None:
    code = make_convoy("BUS-GBK", n=0)
    f = write(tmp_path / "g.csv", good_rows(3, 1), "gbk")
    with pytest.raises(UnicodeDecodeError):
        f.read_bytes().decode("utf-8")  # real GBK bytes
    assert do_import(code, f)["added"] == 3


def test_a_nul_character_rejects_its_row(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    """No database text column stores U+0000 (PostgreSQL refuses it): such rows are reported,
    on every backend, and the others import."""
    code = make_convoy("BUS-NUL", n=0)
    rows = good_rows(4)
    rows[0][0] = "工\x00人"
    rows[2][6] = "note\x00x"  # an extra column is stored too
    r = do_import(code, write(tmp_path / "m.csv", rows))
    assert (r["read"], r["added"], r["rejected"]) == (4, 2, 2)
    assert r["reasons"]["nul_character"] == 2
    text = Path(r["errors_csv"]).read_text(encoding="utf-8-sig")
    assert "NUL character" in text and "\x00" not in text
    assert seats(code) == [3, 5]


NO_HEADER = "has no recognisable header row"
BAD_FILES: list[tuple[str, bytes, str]] = [
    ("empty.csv", b"", "empty.csv is empty"),
    ("blank.csv", b"\r\n,,,\r\n\r\n", "blank.csv is empty"),
    ("header.csv", "姓名,身份证号,用工企业\r\n".encode(), "has a header row (row 1) but no"),
    ("nohead.csv", b"a,b,c\r\n1,2,3\r\n", f"nohead.csv {NO_HEADER}"),
    (
        "twice.csv",
        "姓名,身份证号,用工企业,身份证号码\r\n".encode(),
        "twice.csv has 2 columns for id_number (身份证号): B (身份证号) and D (身份证号码)",
    ),
    ("giant.csv", ("x" * 5_000_000).encode(), f"giant.csv {NO_HEADER}"),
    ("utf16.csv", "姓名,身份证号,用工企业\r\n".encode("utf-16"), "is neither UTF-8 nor GBK"),
    (
        "partial.csv",
        "姓名,电话\r\n王伟,15151235120\r\n".encode(),
        "has no column for id_number (身份证号), employer (用工企业); its headers (row 1)",
    ),
    ("phone.csv", "王伟,15151235120,330225199001011234\r\n".encode(), f"phone.csv {NO_HEADER}"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD_FILES)
def test_bad_files_are_one_short_error_and_import_nothing(
    make_convoy: Callable[..., str],
    settings: Settings,
    tmp_path: Path,
    name: str,
    data: bytes,
    message: str,
) -> None:
    code = make_convoy("BUS-BAD", n=0)
    f = tmp_path / name
    f.write_bytes(data)
    with pytest.raises(ValidationError) as err:
        do_import(code, f)
    text = str(err.value)
    assert message in text and "\n" not in text and len(text) < 400, text
    if name == "phone.csv":  # values echoed are masked the one way
        assert "151****5120" in text and "3302**********1234" in text
    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(Passenger)).scalar_one() == 0


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["工人", "", "  "]),
            st.one_of(st.sampled_from(ids(6, 3)), st.text(max_size=20)),
            st.one_of(st.just("13812345678"), st.just("17412345678"), st.text(max_size=12)),
            st.sampled_from([*ENTERPRISES, "象山示范针织", "无名公司", ""]),
            st.sampled_from(["绿", "红", "x", ""]),
            st.one_of(st.just("36.6"), st.text(max_size=5)),
        ),
        max_size=20,
    ),
    st.booleans(),
)
def test_round_trip_counts_add_up(
    make_convoy: Callable[..., str],
    settings: Settings,
    tmp_path: Path,
    rows: list[tuple],
    numbered: bool,
) -> None:
    """Write a random manifest, import it (twice): the counts add up, the database holds
    exactly what was added, and the second import adds nothing."""
    code = make_convoy("BUS-FZ", n=0)
    with session_scope() as s:  # each example starts from an empty manifest
        s.execute(CustodyEvent.__table__.delete())  # type: ignore[attr-defined]
        s.execute(Passenger.__table__.delete())  # type: ignore[attr-defined]
    header = ["序号", *HEADER] if numbered else HEADER
    body = [[*([str(i + 1)] if numbered else []), *r, ""] for i, r in enumerate(rows)]
    first = ["0", "0", "0"] if numbered else ["x"]
    f = write(tmp_path / "fz.csv", [first, *body], "gb18030", header=header)
    try:
        r = do_import(code, f)
    except ValidationError as exc:
        assert "no passenger rows" in str(exc) or "no recognisable" in str(exc)
        return
    nonblank = 1 + sum(1 for row in body if "".join(row).strip())
    assert r["read"] == nonblank
    assert r["imported"] + r["rejected"] == r["read"]
    assert r["added"] + r["already"] == r["imported"]
    assert sum(r["reasons"].values()) >= r["rejected"]
    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(Passenger)).scalar_one() == r["added"]
    again = do_import(code, f)
    assert (again["added"], again["already"], again["rejected"]) == (0, r["added"], r["rejected"])
