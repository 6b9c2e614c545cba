"""Manifest rows (English or Chinese headers) checked one by one: problems and warnings.

A row's **problems** are about who the person is (ID number, name, employer, seat): any one
rejects the row. Its **warnings** are about contact and health details (a phone that is not a
mainland mobile, a test that will be too old at departure, an unreadable health field …): the
passenger is imported and the row flagged. Every problem and warning of a row is reported, each
with a stable code (``REJECT_CODES``, ``WARNING_CODES``), the column, the value as
``models.intake.identity.echo`` shows it, and a sentence.

The ID and phone validators are ``models.intake.identity``'s (the fast path, a few µs a row);
reading the files is ``models.intake.sheets``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from config.rules import ScreeningRules
from models.convoy.screening import HEALTH_CODES, NAT_RESULTS
from models.convoy.store import PassengerRow
from models.intake.identity import (
    _CHECK,
    _DATES,
    _MOBILE_RE,
    _PROVINCES,
    _ymd,
    echo,
    id_problem,
    normalise_id,
    normalise_phone,
)
from models.intake.sheets import Columns, Table, blank, column_letter, header_key
from models.labels import COLUMNS

HEADERS: dict[str, tuple[str, ...]] = {
    "seat": ("seat", "序号", "座位号", "座号"),
    "name": ("name", "姓名", "名字"),
    "id_number": ("id_number", "id", "身份证", "身份证号", "身份证号码", "证件号码", "证件号"),
    "phone": ("phone", "mobile", "手机", "手机号", "手机号码", "联系电话", "电话"),
    "employer": ("employer", "enterprise", "用工企业", "企业名称", "企业", "单位", "工作单位"),
    "origin": ("origin", "户籍地", "出发地"),
    "health_code": ("health_code", "健康码"),
    "nat_result": ("nat_result", "核酸结果", "核酸检测结果"),
    "nat_time": ("nat_time", "核酸检测时间", "核酸时间"),
    "temperature": ("temperature", "体温"),
    "entry_applied": ("entry_applied", "入甬申请", "入城申请", "已申报"),
}
# The fields a passenger row carries (the seat is read apart).
FIELDS: tuple[str, ...] = tuple(k for k in HEADERS if k != "seat")
REQUIRED: tuple[str, ...] = ("name", "id_number", "employer")
IDENTITY: frozenset[str] = frozenset({"seat", *REQUIRED})
# The columns as report files name them (zh-CN, the sheets' language): models.labels.COLUMNS.
LABELS: dict[str, str] = dict(COLUMNS["zh-CN"])
# Columns that Convoy Ops adds to the files for fixing: the source row, and why. ``_row`` gives
# the seat back when the source had no seat column; both are otherwise ignored when read back.
FIX_COLUMNS: tuple[str, str] = ("_row", "_reason")
MANIFEST = Columns("manifest", HEADERS, REQUIRED, LABELS, ignored=FIX_COLUMNS)
_LOOKUP = MANIFEST.lookup

# Stable codes (the keys of ``--json``'s "reasons" and "warning_reasons").
REJECT_CODES: tuple[str, ...] = (
    "missing_field", "id_invalid", "duplicate_in_file", "duplicate_other_convoy",
    "unknown_employer", "ambiguous_employer", "id_conflict", "seat_invalid", "duplicate_seat",
    "seat_taken", "nul_character", "formula_unsaved",
)  # fmt: skip
WARNING_CODES: tuple[str, ...] = (
    "phone_invalid", "nat_stale", "declared_unfit", "health_code_invalid", "nat_result_invalid",
    "nat_time_invalid", "temperature_invalid", "entry_applied_invalid", "extra_cells",
    "formula_unsaved",
)  # fmt: skip

REASONS: dict[str, str] = {
    "required": "{label} is required",
    "id_length": "an ID number has 18 characters, this one has {n}",
    "id_format": "an ID number is 17 digits followed by a digit or X",
    "id_province": "the ID number does not start with a province code",
    "id_date": "the birth date inside the ID number is not a real date",
    "id_date_implausible": "the birth date inside the ID number is not plausible",
    "id_check": "the check digit of the ID number is wrong",
    "id_numeric": "the ID number was stored as a number and lost digits; format the column as text",
    "duplicate": "the same ID number is already on row {row}",
    "phone": "a mainland mobile number has 11 digits and a mobile prefix (13x, 15x, 18x …)",
    "health_code": "the health code is not one of green/yellow/red (绿/黄/红)",
    "nat_result": "the nucleic-acid test result is not negative/positive (阴性/阳性)",
    "nat_time": "the test time is not a date and time like 2020-02-18 09:30",
    "temperature": "the temperature is not a number",
    "temperature_range": "the temperature is outside {lo}–{hi} °C",
    "entry_applied": "the entry application column takes yes/no (是/否)",
    "seat": "the seat number (序号) must be a whole number from 1",
    "seat_missing": "the row has no seat number (序号), though the file numbers its rows",
    "nat_stale": "the nucleic-acid test of {at:%Y-%m-%d %H:%M} will be {hours:.0f} h old at the "
    "planned departure (limit {limit:.0f} h)",
    "unfit": "the manifest declares {what}: the passenger will be held at screening",
    "extra_cells": "the row has cells beyond the header ({cols}); they are kept as extra data",
    "nul": "the cell holds a NUL character (0x00)",
    "formula": "the cell holds a formula whose result was not saved in the file; open it in "
    "Excel and save it again, or paste the values",
}
CODES: dict[str, str] = {
    "required": "missing_field", "id_length": "id_invalid", "id_format": "id_invalid",
    "id_province": "id_invalid", "id_date": "id_invalid", "id_date_implausible": "id_invalid",
    "id_check": "id_invalid", "id_numeric": "id_invalid", "duplicate": "duplicate_in_file",
    "phone": "phone_invalid", "health_code": "health_code_invalid",
    "nat_result": "nat_result_invalid", "nat_time": "nat_time_invalid",
    "temperature": "temperature_invalid", "temperature_range": "temperature_invalid",
    "entry_applied": "entry_applied_invalid", "seat": "seat_invalid",
    "seat_missing": "seat_invalid", "nat_stale": "nat_stale", "unfit": "declared_unfit",
    "extra_cells": "extra_cells", "nul": "nul_character", "formula": "formula_unsaved",
}  # fmt: skip


_TIME_RE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:\s*[T ]?\s*(\d{1,2})\s*[:：时]\s*(\d{1,2})\s*分?"
    r"\s*(?:[:：]?\s*(\d{1,2})(?:\.\d+)?\s*秒?)?)?"
)
_SERIAL_RE = re.compile(r"\d{5}(\.\d+)?")
_EXCEL_EPOCH = datetime(1899, 12, 30)


def parse_time(text: str, tz: ZoneInfo) -> datetime | None:
    """'2020-02-18 09:30', '2020/2/18 9:30', '2020年2月18日 9时30分', ISO with offset, or an
    Excel date serial (43879.395…, as a date column saved without its format); a date alone
    means the start of that day. None when it is not a time."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        text = text.strip()
        if _SERIAL_RE.fullmatch(text) and 20000 < (days := float(text)) < 80000:
            t = _EXCEL_EPOCH + timedelta(seconds=round(days * 86400))
        else:
            m = _TIME_RE.fullmatch(text)
            if m is None:
                return None
            y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
            try:
                t = datetime(y, mo, d, h, mi, s)
            except ValueError:
                return None
    return t if t.tzinfo else t.replace(tzinfo=tz)


_YES = {"yes", "y", "true", "1", "是", "已申请", "已申报", "已完成", "√", "✓"}
_NO = {"no", "n", "false", "0", "否", "未申请", "未申报", "未完成", "×", "✗"}
_TEMP_JUNK = re.compile(r"\s*(℃|°c|°|c)$", re.IGNORECASE)
_MAX_SEAT = 1_000_000


@dataclass(frozen=True)
class Problem:
    column: str
    value: str  # as ``echo`` shows it: masked, cut short
    reason: str
    code: str = ""


def masked(column: str, value: str) -> str:
    """The value of a field as a message or an error file may show it."""
    return echo(value, column)


def problem(column: str, key: str, value: str = "", **fmt: Any) -> Problem:
    """A problem or warning of a field: ``key`` is a key of ``REASONS``."""
    return Problem(column, masked(column, value), REASONS[key].format(**fmt), CODES[key])


@dataclass
class Flagged:
    """A row with problems (``row`` is None: rejected) or only warnings (``row`` imports)."""

    n: int
    row: PassengerRow | None
    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)
    cells: list[str] = field(default_factory=list, compare=False)
    values: dict[str, str] = field(default_factory=dict, compare=False)
    id_number: str = ""  # the normalised ID number when it is a valid one
    seat: int = 0  # 0 when the row's seat number is not usable


@dataclass
class Layout:
    """Where each field sits, which columns are extra, and where the seat comes from."""

    index: dict[str, int]
    extra: list[tuple[int, str]]
    width: int
    row_column: int = -1  # ``_row`` of a file for fixing

    @classmethod
    def of(cls, header: list[str]) -> Layout:
        """The layout of a header known to be right (forms, tests)."""
        index = {k: i for i, h in enumerate(header) if (k := _LOOKUP.get(header_key(h)))}
        extra = [(i, h) for i, h in enumerate(header) if not _LOOKUP.get(header_key(h))]
        return cls(index, extra, len(header))

    @classmethod
    def of_table(cls, table: Table) -> Layout:
        return cls(
            table.index, table.extra, len(table.header), table.ignored.get(FIX_COLUMNS[0], -1)
        )


class RowParser:
    """Checks rows one by one (fast path first); remembers ID numbers for duplicates."""

    def __init__(
        self,
        layout: Layout,
        tz: ZoneInfo,
        rules: ScreeningRules | None = None,
        today: date | None = None,
        departure: datetime | None = None,
    ) -> None:
        self.layout = layout
        self.tz = tz
        rules = rules or ScreeningRules()
        self.t_lo, self.t_hi = rules.temperature_min, rules.temperature_max
        self.fever = rules.fever_celsius
        self.window = timedelta(hours=rules.nat_valid_hours)
        self.departure = departure
        # A test before this is too old at departure (never, without a departure).
        self.stale_before = departure - self.window if departure else None
        self.today = today or date.today()
        self.seen: dict[str, int] = {}
        self._get = [(k, layout.index.get(k, -1)) for k in FIELDS]
        self._seat_i = layout.index.get("seat", -1)
        self._row_i = layout.row_column
        # Fast path: one C-level itemgetter picks the fields (missing ones read a padding cell).
        self._width1 = layout.width + 1
        self._pick = itemgetter(*(layout.index.get(k, layout.width) for k in FIELDS))
        self._has_extra = bool(layout.extra)
        self._extra_at = [i for i, _ in layout.extra]
        self._dates = _DATES.through(self.today.year)
        self._cut = _ymd(self.today)  # no one is born after the day of the check
        self._times: dict[str, datetime] = {}
        self._temps: dict[str, float | None] = {}

    def values(self, cells: list[str]) -> dict[str, str]:
        n = len(cells)
        return {k: (cells[i].strip() if 0 <= i < n else "") for k, i in self._get}

    def extra(self, cells: list[str]) -> dict[str, str] | None:
        out: dict[str, str] = {}
        n = len(cells)
        for i, name in self.layout.extra:
            if i < n and cells[i]:
                out[name] = cells[i]
        for i in range(self.layout.width, n):
            if cells[i]:
                out[f"column {column_letter(i)}"] = cells[i]
        return out or None

    def parse(self, n: int, cells: list[str]) -> PassengerRow | Flagged:
        """A clean row as a ``PassengerRow``; else ``Flagged`` with every problem and warning."""
        fast = self._fast(n, cells)
        return fast if fast is not None else self._full(n, cells)

    def _fast(self, n: int, cells: list[str]) -> PassengerRow | None:
        """The common case in a few µs; None as soon as anything needs a closer look."""
        width = self._width1 - 1
        k = len(cells)
        c = cells + [""] * (self._width1 - k) if k < self._width1 else cells
        if k > width and any(cells[width:]):
            return None
        name, idn, phone, employer, origin, code, nat, nat_t, temp_t, entry_t = self._pick(c)
        name = name.strip()
        employer = employer.strip()
        if not (name and employer and len(idn) == 18):
            return None
        last = idn[17]
        if last == "x":
            idn, last = idn[:17] + "X", "X"
        if (
            not (idn.isascii() and idn[:17].isdigit() and (last.isdigit() or last == "X"))
            or idn[:2] not in _PROVINCES
            or idn[6:14] not in self._dates
            or idn[6:14] > self._cut
            or _CHECK[(2 * int(idn[:17], 13)) % 11] != idn[17]
            or idn in self.seen
        ):
            return None
        if self._seat_i >= 0:
            s = c[self._seat_i]
            if not (s.isdigit() and s.isascii() and 0 < (seat := int(s)) < _MAX_SEAT):
                return None
        elif self._row_i >= 0:
            s = c[self._row_i]
            if not (s.isdigit() and s.isascii() and 0 < (seat := int(s)) < _MAX_SEAT):
                return None
        else:
            seat = n
        if phone and _MOBILE_RE.fullmatch(phone) is None:
            return None
        if code:
            code = HEALTH_CODES.get(code) or HEALTH_CODES.get(code.strip().lower())
            if code != "green":
                return None
        if nat:
            nat = NAT_RESULTS.get(nat) or NAT_RESULTS.get(nat.strip().lower())
            if nat != "negative":
                return None
        nat_time = None
        if nat_t:
            nat_time = self._times.get(nat_t)  # only times the fast path may take
            if nat_time is None:
                nat_time = parse_time(nat_t.strip(), self.tz)
                if nat_time is None or (self.stale_before and nat_time < self.stale_before):
                    return None
                if len(self._times) < 4096:
                    self._times[nat_t] = nat_time
        temp = None
        if temp_t:
            if temp_t in self._temps:
                temp = self._temps[temp_t]
            else:
                temp = self._temperature(temp_t)
                if len(self._temps) < 4096:
                    self._temps[temp_t] = temp
            if temp is None or temp >= self.fever:
                return None
        entry = False
        if entry_t:
            low = entry_t.strip().lower()
            if low in _YES:
                entry = True
            elif low not in _NO:
                return None
        self.seen[idn] = n
        extra = (
            self.extra(cells) if self._has_extra and any([c[i] for i in self._extra_at]) else None
        )
        # Positional: a third of the cost of keywords (name, id_number, phone, employer, origin,
        # health_code, nat_result, nat_time, temperature, extra, entry_applied, seat).
        return PassengerRow(
            name,
            idn,
            phone,
            employer,
            origin.strip(),
            code,
            nat,
            nat_time,
            temp,
            extra,
            entry,
            seat,
        )

    def _temperature(self, text: str) -> float | None:
        try:
            t = float(_TEMP_JUNK.sub("", text.strip()).replace(",", "."))
        except ValueError:
            return None
        return t if self.t_lo <= t <= self.t_hi else None

    def _seat(self, n: int, cells: list[str], problems: list[Problem]) -> int:
        i = self._seat_i if self._seat_i >= 0 else self._row_i
        if i < 0:
            return n
        text = cells[i].strip() if i < len(cells) else ""
        column = "seat" if self._seat_i >= 0 else FIX_COLUMNS[0]
        if not text:
            if self._seat_i < 0:
                return n  # a file for fixing whose _row was cleared: the row itself
            problems.append(problem(column, "seat_missing"))
            return 0
        try:
            seat = float(text)
        except ValueError:
            seat = 0.0
        if not (seat.is_integer() and 0 < seat < _MAX_SEAT):
            problems.append(problem(column, "seat", text))
            return 0
        return int(seat)

    def _full(self, n: int, cells: list[str]) -> Flagged:
        """Every check, every problem and warning (the slow path)."""
        v = self.values(cells)
        problems: list[Problem] = []
        warnings: list[Problem] = []
        seat = self._seat(n, cells, problems)
        for column in REQUIRED:
            if not v[column]:
                problems.append(problem(column, "required", label=MANIFEST.describe(column)))
        idn = normalise_id(v["id_number"])
        if idn:
            why = id_problem(idn, self.today)
            if why == "id_length" and "E+" in idn:
                why = "id_numeric"
            if why is not None:
                problems.append(problem("id_number", why, idn, n=len(idn)))
            elif idn in self.seen:
                problems.append(problem("id_number", "duplicate", idn, row=self.seen[idn]))
            else:
                self.seen[idn] = n  # a later copy is a duplicate, even if this row is rejected
        phone = normalise_phone(v["phone"]) if v["phone"] else ""
        if phone and _MOBILE_RE.fullmatch(phone) is None:
            warnings.append(problem("phone", "phone", phone))
        unfit: list[tuple[str, str]] = []
        code = v["health_code"]
        if code:
            code = HEALTH_CODES.get(code.lower(), "")
            if not code:
                warnings.append(problem("health_code", "health_code", v["health_code"]))
            elif code != "green":
                unfit.append(("health_code", f"a {code} health code"))
        nat = v["nat_result"]
        if nat:
            nat = NAT_RESULTS.get(nat.lower(), "")
            if not nat:
                warnings.append(problem("nat_result", "nat_result", v["nat_result"]))
            elif nat == "positive":
                unfit.append(("nat_result", "a positive nucleic-acid test"))
        nat_time = None
        if v["nat_time"]:
            nat_time = parse_time(v["nat_time"], self.tz)
            if nat_time is None:
                warnings.append(problem("nat_time", "nat_time", v["nat_time"]))
            elif self.departure and self.stale_before and nat_time < self.stale_before:
                hours = (self.departure - nat_time).total_seconds() / 3600
                limit = self.window.total_seconds() / 3600
                warnings.append(
                    problem("nat_time", "nat_stale", v["nat_time"], at=nat_time.astimezone(
                        self.tz), hours=hours, limit=limit)
                )  # fmt: skip
        temp = None
        if v["temperature"]:
            try:
                temp = float(_TEMP_JUNK.sub("", v["temperature"]).replace(",", "."))
            except ValueError:
                warnings.append(problem("temperature", "temperature", v["temperature"]))
            else:
                if not self.t_lo <= temp <= self.t_hi:  # also refuses nan and inf
                    warnings.append(
                        problem("temperature", "temperature_range", v["temperature"],
                                lo=self.t_lo, hi=self.t_hi)
                    )  # fmt: skip
                    temp = None
                elif temp >= self.fever:
                    unfit.append(("temperature", f"a fever of {temp:.1f} °C"))
        if unfit:
            what = " and ".join(w for _, w in unfit)
            warnings.append(problem(unfit[0][0], "unfit", what=what))
        entry = False
        if v["entry_applied"]:
            text = v["entry_applied"].lower()
            if text in _YES:
                entry = True
            elif text not in _NO:
                warnings.append(problem("entry_applied", "entry_applied", v["entry_applied"]))
        width = self.layout.width
        beyond = [column_letter(i) for i in range(width, len(cells)) if cells[i]]
        if beyond:
            warnings.append(problem("extra", "extra_cells", cols=", ".join(beyond[:5])))
        row = None
        if not problems:
            row = PassengerRow(
                name=v["name"],
                id_number=idn,
                phone=phone,
                employer=v["employer"],
                origin=v["origin"],
                health_code=code,
                nat_result=nat,
                nat_time=nat_time,
                temperature=temp,
                extra=self.extra(cells),
                entry_applied=entry,
                seat=seat,
            )
        valid = idn if idn and not any(p.column == "id_number" for p in problems) else ""
        return Flagged(n, row, problems, warnings, cells, v, valid, seat)


def defects(table: Table, n: int) -> tuple[list[Problem], list[Problem]]:
    """The cell defects of row ``n`` as (problems, warnings): a NUL character anywhere, or an
    unsaved formula in an identity column, rejects the row; an unsaved formula elsewhere is a
    warning (the cell reads as empty)."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for i, kind, text in table.defects(n):
        column = table.column(i)
        key = _LOOKUP.get(header_key(column), column)
        if kind == "nul":
            problems.append(problem(key, "nul", text))
        elif key in IDENTITY:
            problems.append(problem(key, "formula", text))
        else:
            warnings.append(problem(key, "formula", text))
    return problems, warnings


@dataclass
class Read:
    """What reading a manifest gave so far: rows read and blank rows skipped."""

    read: int = 0
    blank: int = 0


def check_rows(
    table: Table, parser: RowParser, counts: Read
) -> Iterator[tuple[int, list[str], PassengerRow | Flagged]]:
    """(row number, cells, outcome) of every non-blank row under the header (the reading loop
    of an import, without the database). ``counts`` is kept up to date as rows are read."""
    fast_parse = parser._fast
    for n, cells in table.rows:
        if table.formulas or table.nul_cells:  # filled as rows are read; empty but rarely
            problems, warnings = defects(table, n)
            if problems or warnings:
                counts.read += 1
                lost = {table.index.get(p.column, -1) for p in (*problems, *warnings)}
                out = parser._full(n, [c if i not in lost else "" for i, c in enumerate(cells)])
                out.problems[:0] = problems
                out.warnings[:0] = warnings
                out.cells = cells
                if out.problems:
                    out.row = None
                yield n, cells, out
                continue
        if any(cells):
            fast = fast_parse(n, cells)  # a row it passes is not blank
            if fast is not None:
                counts.read += 1
                yield n, cells, fast
                continue
        if blank(cells):
            counts.blank += 1
            continue
        counts.read += 1
        yield n, cells, parser._full(n, cells)


def safe_for_spreadsheet(text: str) -> str:
    """Neutralise text a spreadsheet would run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
