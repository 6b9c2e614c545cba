"""Manifest parsing and the fast validators: real CSV/GBK/XLSX files, hypothesis fuzzing, and
python-stdnum / phonenumbers as the oracles of the fast path."""

from __future__ import annotations

import io
import random
import string
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

from models.convoy.store import PassengerRow
from models.errors import ValidationError
from models.intake.identity import (
    id_check_char,
    id_problem,
    is_mobile,
    normalise_phone,
    synthetic_id,
)
from models.intake.manifest import (
    CODES,
    MANIFEST,
    REASONS,
    REJECT_CODES,
    WARNING_CODES,
    Flagged,
    Layout,
    Read,
    RowParser,
    check_rows,
    parse_time,
)
from models.intake.sheets import open_table
from tests.conftest import SHANGHAI

HEADER_ZH = ["姓名", "身份证号", "手机号", "用工企业", "健康码", "核酸结果", "核酸检测时间", "体温"]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def good_id(seed: int = 1) -> str:
    return synthetic_id(random.Random(seed), "610526")


def row(**over: str) -> list[str]:
    base = {
        "姓名": "王伟",
        "身份证号": good_id(),
        "手机号": "13812345678",
        "用工企业": "象山示范针织有限公司",
        "健康码": "绿",
        "核酸结果": "阴性",
        "核酸检测时间": "2020-02-19 09:30",
        "体温": "36.5",
    }
    base.update(over)
    return [base[h] for h in HEADER_ZH]


DEPARTURE = datetime(2020, 2, 20, 14, tzinfo=SHANGHAI)


def parser(header: list[str] = HEADER_ZH) -> RowParser:
    return RowParser(Layout.of(header), SHANGHAI, today=date(2020, 2, 20), departure=DEPARTURE)


# -- the fast validators against the reference libraries ---------------------------------------


def stdnum_verdict(value: str) -> bool:
    """The reference, limited to checksum and birth date (stdnum's birth-place table is
    incomplete, so its place check is not used)."""
    try:
        if len(value) != 18 or not value[:17].isdigit():
            return False
        if ric.calc_check_digit(value) != value[17]:
            return False
        ric.get_birth_date(value)
    except StdnumError:
        return False
    return True


@FUZZ
@given(st.text(alphabet="0123456789X", min_size=17, max_size=17), st.sampled_from("0123456789X"))
def test_id_checksum_agrees_with_stdnum(first17: str, last: str) -> None:
    value = first17 + last
    if value[:17].isdigit():
        assert id_check_char(value[:17]) == ric.calc_check_digit(value)
    ours = id_problem(value, date(2020, 2, 20))
    if ours is None:
        assert stdnum_verdict(value)
    elif ours in ("id_check", "id_date", "id_format", "id_length"):
        assert not stdnum_verdict(value)


@FUZZ
@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 2, 20)),
    st.integers(0, 999),
    st.sampled_from(["610526", "330225", "420102", "110101"]),
)
def test_valid_ids_pass_both(born: date, serial: int, region: str) -> None:
    first17 = f"{region}{born:%Y%m%d}{serial:03d}"
    value = first17 + ric.calc_check_digit(first17 + "0")
    assert id_problem(value, date(2020, 2, 20)) is None
    assert stdnum_verdict(value)


@FUZZ
@given(st.text(alphabet=string.digits, min_size=11, max_size=11).map(lambda s: "1" + s[1:]))
def test_mobile_agrees_with_phonenumbers(number: str) -> None:
    try:
        parsed = phonenumbers.parse(number, "CN")
    except phonenumbers.NumberParseException:  # e.g. '110…' read as an international prefix
        reference = False
    else:
        reference = phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        )
    assert is_mobile(number) == reference


def test_phone_normalisation() -> None:
    assert normalise_phone("+86 138-1234-5678") == "13812345678"
    assert normalise_phone("0086 13812345678") == "13812345678"
    assert normalise_phone("１３８１２３４５６７８") == "13812345678"  # full-width digits


def test_times() -> None:
    assert parse_time("2020/2/19 9:30", SHANGHAI).hour == 9  # type: ignore[union-attr]
    assert parse_time("2020年2月19日 9时30分", SHANGHAI).minute == 30  # type: ignore[union-attr]
    assert parse_time("2020-02-19T09:30:00+08:00", SHANGHAI).tzinfo is not None  # type: ignore[union-attr]
    assert parse_time("yesterday", SHANGHAI) is None
    assert parse_time("2020-02-30 09:00", SHANGHAI) is None
    # An Excel date serial (a date column saved without its format): 2020-02-19 09:30.
    assert parse_time("43880.395833", SHANGHAI) == datetime(2020, 2, 19, 9, 30, tzinfo=SHANGHAI)


# -- every problem and warning, each with its stable code ---------------------------------------

_BAD_CHECK = good_id()[:17] + ("0" if good_id()[17] != "0" else "1")
CASES = [
    ({"姓名": ""}, "name", "required"),
    ({"身份证号": ""}, "id_number", "required"),
    ({"用工企业": ""}, "employer", "required"),
    ({"身份证号": "61052619900101123"}, "id_number", "id_length"),
    ({"身份证号": "6.10526E+17"}, "id_number", "id_numeric"),
    ({"身份证号": "61052619900101123Y"}, "id_number", "id_format"),
    ({"身份证号": "99052619900101123X"}, "id_number", "id_province"),
    ({"身份证号": "610526199002301234"}, "id_number", "id_date"),
    ({"身份证号": "610526203001011234"}, "id_number", "id_date_implausible"),
    ({"身份证号": _BAD_CHECK}, "id_number", "id_check"),
]
WARNINGS = [
    ({"手机号": "12345678901"}, "phone", "phone"),
    ({"手机号": "15412345678"}, "phone", "phone"),  # a prefix phonenumbers does not know
    ({"手机号": "1381234567"}, "phone", "phone"),
    ({"健康码": "蓝"}, "health_code", "health_code"),
    ({"健康码": "红码"}, "health_code", "unfit"),
    ({"核酸结果": "阳性"}, "nat_result", "unfit"),
    ({"体温": "37.9"}, "temperature", "unfit"),
    ({"核酸结果": "maybe"}, "nat_result", "nat_result"),
    ({"核酸检测时间": "soon"}, "nat_time", "nat_time"),
    ({"核酸检测时间": "2020-02-17 09:00"}, "nat_time", "nat_stale"),  # 77 h before departure
    ({"体温": "hot"}, "temperature", "temperature"),
    ({"体温": "45.2"}, "temperature", "temperature_range"),
    ({"体温": "nan"}, "temperature", "temperature_range"),
]


def test_codes_are_the_documented_ones() -> None:
    assert set(CODES.values()) <= set(REJECT_CODES) | set(WARNING_CODES)
    assert {"id_invalid", "duplicate_in_file", "duplicate_other_convoy", "unknown_employer",
            "ambiguous_employer", "missing_field"} <= set(REJECT_CODES)  # fmt: skip
    assert {"phone_invalid", "nat_stale"} <= set(WARNING_CODES)


@pytest.mark.parametrize(("over", "column", "key"), CASES)
def test_every_rejection_reason(over: dict[str, str], column: str, key: str) -> None:
    out = parser().parse(2, row(**over))
    assert isinstance(out, Flagged) and out.row is None
    assert out.problems[0].column == column and out.problems[0].code == CODES[key]
    head = REASONS[key].split("{")[0]
    assert out.problems[0].reason.startswith(head)
    if column == "id_number" and len(over["身份证号"]) == 18:
        assert out.problems[0].value.startswith(over["身份证号"][:4] + "**********")  # masked


@pytest.mark.parametrize(("over", "column", "key"), WARNINGS)
def test_every_warning_imports_the_passenger(over: dict[str, str], column: str, key: str) -> None:
    out = parser().parse(2, row(**over))
    assert isinstance(out, Flagged) and out.problems == [] and out.row is not None
    assert [(w.column, w.code) for w in out.warnings] == [(column, CODES[key])]
    assert out.warnings[0].reason.startswith(REASONS[key].split("{")[0])
    if column == "phone" and len(over["手机号"]) == 11:
        phone = over["手机号"]
        assert out.warnings[0].value == f"{phone[:3]}****{phone[-4:]}"  # like 138****5678


def test_entry_applied_reason() -> None:
    p = parser([*HEADER_ZH, "入甬申请"])
    assert isinstance(p.parse(2, [*row(), "是"]), PassengerRow)
    bad = p.parse(3, [*row(身份证号=good_id(2)), "maybe"])
    assert isinstance(bad, Flagged) and bad.warnings[0].code == "entry_applied_invalid"
    assert bad.row is not None and bad.row.entry_applied is False


def test_duplicate_in_file_and_all_problems_listed() -> None:
    p = parser()
    assert isinstance(p.parse(2, row()), PassengerRow)
    dup = p.parse(3, row())
    assert isinstance(dup, Flagged) and dup.row is None
    assert dup.problems[0].reason == "the same ID number is already on row 2"
    many = p.parse(4, row(姓名="", 手机号="123", 体温="50", 身份证号=good_id(3)))
    assert isinstance(many, Flagged)
    assert [x.code for x in many.problems] == ["missing_field"]
    assert [x.code for x in many.warnings] == ["phone_invalid", "temperature_invalid"]


def test_a_duplicate_of_a_rejected_row_is_rejected_too() -> None:
    p = parser()
    first = p.parse(2, row(姓名=""))
    assert isinstance(first, Flagged) and first.row is None
    again = p.parse(3, row())
    assert isinstance(again, Flagged) and again.problems[0].code == "duplicate_in_file"


def test_seats_come_from_the_sheet() -> None:
    p = parser(["序号", *HEADER_ZH])
    out = p.parse(5, ["12", *row()])
    assert isinstance(out, PassengerRow) and out.seat == 12
    assert isinstance(got := p.parse(6, ["13.0", *row(身份证号=good_id(4))]), Flagged)
    assert got.row is not None and got.row.seat == 13
    for bad in ("", "0", "x", "1.5"):
        out = p.parse(7, [bad, *row(身份证号=good_id(5))])
        assert isinstance(out, Flagged) and out.problems[0].code == "seat_invalid", bad
    plain = parser().parse(9, row(身份证号=good_id(6)))
    assert isinstance(plain, PassengerRow) and plain.seat == 9  # the row's number in the file


def test_normalisation_of_good_rows() -> None:
    out = parser().parse(
        2, row(健康码="Green", 核酸结果="Negative", 体温="36.8℃", 身份证号=good_id().lower())
    )
    assert isinstance(out, PassengerRow)
    assert (out.health_code, out.nat_result, out.temperature) == ("green", "negative", 36.8)
    assert out.nat_time is not None and out.nat_time.tzinfo is not None


def test_missing_required_column_is_one_clear_error(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "m.csv", [["姓名", "用工企业"], ["王伟", "A"]], "utf-8")
    with pytest.raises(ValidationError, match=r"no column for id_number \(身份证号\)"):
        read_manifest(f, SHANGHAI)


# -- files ---------------------------------------------------------------------------------------


@dataclass
class ManifestRead:
    rows: list[tuple[int, PassengerRow]] = field(default_factory=list)
    rejected: list[Flagged] = field(default_factory=list)
    read: int = 0
    blank: int = 0
    header_row: int = 0


def read_manifest(path: Path, tz: ZoneInfo) -> ManifestRead:
    """The reading loop of ``models.intake.importer.import_manifest`` without the database: every
    row read is accepted or rejected, blank rows are counted apart."""
    out = ManifestRead()
    counts = Read()
    with open_table(path, MANIFEST) as table:
        out.header_row = table.header_row
        parser = RowParser(Layout.of_table(table), tz)
        for n, _cells, result in check_rows(table, parser, counts):
            if isinstance(result, Flagged) and result.row is None:
                out.rejected.append(result)
            else:
                out.rows.append((n, result if isinstance(result, PassengerRow) else result.row))  # type: ignore[arg-type]
    out.read, out.blank = counts.read, counts.blank
    return out


def write_csv(path: Path, rows: list[list[str]], encoding: str) -> Path:
    text = "\r\n".join(",".join(r) for r in rows) + "\r\n"
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings(tmp_path: Path, encoding: str) -> None:
    f = write_csv(tmp_path / "m.csv", [[*HEADER_ZH, "备注"], [*row(), "夜班"]], encoding)
    if encoding == "gbk":  # real GBK bytes: not valid UTF-8
        with pytest.raises(UnicodeDecodeError):
            f.read_bytes().decode("utf-8")
    out = read_manifest(f, SHANGHAI)
    assert out.read == 1 and len(out.rows) == 1
    _, r = out.rows[0]
    assert r.name == "王伟" and r.employer == "象山示范针织有限公司"
    assert r.extra == {"备注": "夜班"}  # unknown columns are kept


def test_english_headers_and_blank_rows(tmp_path: Path) -> None:
    f = write_csv(
        tmp_path / "m.csv",
        [
            ["", ""],
            ["Name", "ID Number", "Phone", "Employer"],
            [",,,"],
            ["Wang Wei", good_id(), "13812345678", "ACME"],
            ["", "", "", ""],
        ],
        "utf-8",
    )
    out = read_manifest(f, SHANGHAI)
    assert (out.read, out.blank, len(out.rows)) == (1, 2, 1)


def test_xlsx_with_numbers_dates_and_formulas(tmp_path: Path) -> None:
    from datetime import datetime

    wb = Workbook()
    ws = wb.active
    ws.append(HEADER_ZH)
    ws.append(
        ["王伟", good_id(1), 13812345678, "A公司", "绿", "阴性", datetime(2020, 2, 19, 9), 36.5]
    )
    ws.append(
        ["李娜", good_id(2), "13912345678", "A公司", "绿", "阴性", "2020-02-19 10:00", "=36+1"]
    )
    ws.append(["=A2", "=B2", None, None, None, None, None, None])
    f = tmp_path / "m.xlsx"
    wb.save(f)
    out = read_manifest(f, SHANGHAI)
    assert out.read == 3 and len(out.rows) + len(out.rejected) == 3
    first = out.rows[0][1]
    assert first.phone == "13812345678" and first.nat_time is not None
    # Formula cells have no saved value: in an identity column the row is rejected, elsewhere
    # the cell reads as empty and the row is flagged.
    assert [r.n for r in out.rejected] == [4]
    assert out.rows[1][1].temperature is None


def test_truncated_xlsx_is_refused_cleanly(tmp_path: Path) -> None:
    wb = Workbook()
    wb.active.append(HEADER_ZH)
    for i in range(200):
        wb.active.append(row(身份证号=good_id(i)))
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    f = tmp_path / "t.xlsx"
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValidationError, match="not a readable Excel workbook"):
        read_manifest(f, SHANGHAI)


def test_empty_files(tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(ValidationError, match=r"e\.csv is empty"):
        read_manifest(tmp_path / "e.csv", SHANGHAI)
    Workbook().save(tmp_path / "e.xlsx")
    with pytest.raises(ValidationError, match=r"e\.xlsx is empty"):
        read_manifest(tmp_path / "e.xlsx", SHANGHAI)


def test_unknown_encoding(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_bytes("姓名".encode("utf-16"))
    with pytest.raises(ValidationError, match="neither UTF-8 nor GBK"):
        read_manifest(f, SHANGHAI)


# -- fuzzing: never a crash, never a lost row ----------------------------------------------------


def _accounted(path: Path) -> None:
    try:
        out = read_manifest(path, SHANGHAI)
    except ValidationError:
        return  # a clear, file-level refusal: nothing is imported, nothing is lost
    assert out.read == len(out.rows) + len(out.rejected)


@FUZZ
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    f = tmp_path_factory.mktemp("fz") / "m.csv"
    f.write_bytes(b"\xef\xbb\xbf" + ",".join(HEADER_ZH).encode() + b"\n" + data)
    _accounted(f)


@FUZZ
@given(
    st.lists(st.lists(st.text(max_size=20), max_size=12), max_size=15),
    st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "gbk", "latin-1"]),
)
def test_fuzz_rows_and_encodings(
    tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]], encoding: str
) -> None:
    import csv as _csv

    buf = io.StringIO()
    w = _csv.writer(buf)
    w.writerow(HEADER_ZH)
    w.writerows(rows)
    f = tmp_path_factory.mktemp("fz") / "m.csv"
    f.write_bytes(buf.getvalue().encode(encoding, errors="replace"))
    try:
        out = read_manifest(f, SHANGHAI)
    except ValidationError:
        return
    nonblank = sum(1 for r in rows if "".join(r).strip())
    if encoding in ("utf-8", "utf-8-sig", "gb18030"):
        assert out.read == nonblank  # every row written is read back
    assert out.read == len(out.rows) + len(out.rejected)


@FUZZ
@given(
    st.lists(
        st.lists(
            st.one_of(
                st.none(),
                st.integers(),
                st.floats(allow_nan=True),
                st.text(max_size=15),
                st.just("=1+1"),
                st.just("=A1"),
            ),
            max_size=10,
        ),
        max_size=10,
    ),
    st.integers(0, 100),
)
def test_fuzz_xlsx(
    tmp_path_factory: pytest.TempPathFactory, rows: list[list[object]], cut: int
) -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    wb = Workbook()
    ws = wb.active
    ws.append(HEADER_ZH)
    for r in rows:
        ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in r])
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    f = tmp_path_factory.mktemp("fz") / "m.xlsx"
    f.write_bytes(data if cut == 100 else data[: len(data) * cut // 100])
    _accounted(f)
    if cut == 100:
        with zipfile.ZipFile(f) as z:
            assert z.testzip() is None
