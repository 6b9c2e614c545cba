"""Reading manifests (CSV/XLSX, English or Chinese headers) into validated rows, streaming.

A bad row never stops the import: it is reported with its row number, column, masked value and
reason, and kept apart for fixing. ``accepted + rejected == rows read``, always (blank rows are
not rows: they are counted apart).

The ID and phone validators are ``models.intake.identity``'s (the fast path, a few µs a row);
``REASONS`` turns their problem keys into words.
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from operator import itemgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from models.convoy.screening import HEALTH_CODES, NAT_RESULTS
from models.convoy.store import PassengerRow
from models.errors import ValidationError
from models.intake.identity import (
    _CHECK,
    _DATES,
    _ID_RE,
    _MOBILE_RE,
    _PROVINCES,
    id_problem,
    mask_id,
    mask_phone,
    normalise_id,
    normalise_phone,
)

HEADERS: dict[str, tuple[str, ...]] = {
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
FIELDS: tuple[str, ...] = tuple(HEADERS)
REQUIRED: tuple[str, ...] = ("name", "id_number", "employer")
LABELS: dict[str, str] = {
    "name": "姓名", "id_number": "身份证号", "phone": "手机号", "employer": "用工企业",
    "origin": "户籍地", "health_code": "健康码", "nat_result": "核酸结果",
    "nat_time": "核酸检测时间", "temperature": "体温", "entry_applied": "入甬申请",
}  # fmt: skip
# Columns that Convoy Ops adds to the files for fixing; they are ignored when read back.
FIX_COLUMNS: tuple[str, str] = ("_row", "_reason")

_HEADER_JUNK = re.compile(r"[\s_\-*:：()（）]")


def header_key(text: Any) -> str:
    """'* 身份证号码 ' → '身份证号码'; 'ID Number' → 'idnumber' (for matching header aliases)."""
    t = unicodedata.normalize("NFKC", str(text or "")).replace("\ufeff", "").lower()
    return _HEADER_JUNK.sub("", t)


_LOOKUP: dict[str, str] = {header_key(a): key for key, aliases in HEADERS.items() for a in aliases}

# -- validators: models.intake.identity (id_problem, normalise_id, normalise_phone, is_mobile)

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
}


_TIME_RE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:\s*[T ]?\s*(\d{1,2})\s*[:：时]\s*(\d{1,2})\s*分?"
    r"\s*(?:[:：]?\s*(\d{1,2})(?:\.\d+)?\s*秒?)?)?"
)


def parse_time(text: str, tz: ZoneInfo) -> datetime | None:
    """'2020-02-18 09:30', '2020/2/18 9:30', '2020年2月18日 9时30分', ISO with offset; a date
    alone means the start of that day. None when it is not a time."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        m = _TIME_RE.fullmatch(text.strip())
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


# -- reading tables --------------------------------------------------------------------------


@dataclass
class Table:
    """An open manifest: its header row and a stream of (row number, cells)."""

    path: Path
    kind: str  # "csv" or "xlsx"
    header: list[str]
    header_row: int
    rows: Iterator[tuple[int, list[str]]]
    encoding: str = ""
    # XLSX: row → (column index, formula) of formula cells whose result was never saved.
    formulas: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    # CSV: row → (column index, text) of cells holding a NUL character.
    nul_cells: dict[int, list[tuple[int, str]]] = field(default_factory=dict)

    def row_problems(self, n: int) -> list[Problem]:
        """Problems found while reading row ``n``: formula cells without a saved result, and
        NUL characters (no database text column can store one: PostgreSQL refuses them)."""
        found = self.formulas.pop(n, None) if self.formulas else None
        nuls = self.nul_cells.pop(n, None) if self.nul_cells else None
        if not found and not nuls:
            return []
        problems = [
            Problem(
                self._column(i),
                f,
                "the cell holds a formula whose result was not saved in the file; open it in "
                "Excel and save it again, or paste the values",
            )
            for i, f in found or ()
        ]
        for i, text in nuls or ():
            column = self._column(i)
            shown = masked(_LOOKUP.get(header_key(column), column), text.replace("\x00", ""))
            problems.append(Problem(column, shown, "the cell holds a NUL character (0x00)"))
        return problems

    def _column(self, i: int) -> str:
        return self.header[i] if i < len(self.header) else f"column {i + 1}"


def _has_nul(path: Path, chunk: int = 1 << 20) -> bool:
    """Whether the file holds a 0x00 byte (in UTF-8 and GB18030 only U+0000 encodes to one)."""
    with path.open("rb") as fh:
        while data := fh.read(chunk):
            if b"\x00" in data:
                return True
    return False


def detect_encoding(path: Path, chunk: int = 1 << 20) -> str:
    """'utf-8-sig' when the whole file decodes as UTF-8 (BOM or not), else 'gb18030' (GBK is
    a subset); anything else is refused with the offset of the first bad byte."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        offset = 0
        try:
            with path.open("rb") as fh:
                while data := fh.read(chunk):
                    decoder.decode(data)
                    offset += len(data)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError as exc:
            first_error = offset + exc.start
            continue
    raise ValidationError(
        f"{path.name} is neither UTF-8 nor GBK/GB18030 text (first undecodable byte at offset "
        f"{first_error}); save it as 'CSV UTF-8' or as an Excel workbook."
    )


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, date | time):
        return v.isoformat()
    return str(v).strip()


def _blank(cells: list[str]) -> bool:
    return not any(cells) or not "".join(cells).strip()


@contextmanager
def open_table(path: Path) -> Iterator[Table]:
    """Open a CSV (UTF-8 with/without BOM, or GBK/GB18030) or XLSX manifest for streaming.

    The header is the first non-blank row. A file with no rows at all has an empty header.
    Unreadable files raise ``ValidationError``, including when a defect shows up half-way.
    """
    if not path.exists():
        raise ValidationError(f"The manifest file {path} does not exist.")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        with _open_xlsx(path) as table:
            yield table
        return
    encoding = detect_encoding(path)
    nul = _has_nul(path)  # rare: only then is every row searched for NUL characters
    nul_cells: dict[int, list[tuple[int, str]]] = {}
    csv.field_size_limit(1 << 30)
    with path.open(encoding=encoding, newline="") as fh:
        reader = csv.reader(fh)

        def numbered() -> Iterator[tuple[int, list[str]]]:
            n = 0
            try:
                for cells in reader:
                    n += 1
                    if nul and (found := [(i, c) for i, c in enumerate(cells) if "\x00" in c]):
                        nul_cells[n] = found
                    yield n, cells
            except csv.Error as exc:
                raise ValidationError(
                    f"{path.name} row {n + 1} cannot be read as CSV: {exc}."
                ) from None

        stream = numbered()
        header: list[str] = []
        header_row = 0
        for n, cells in stream:
            if not _blank(cells):
                header, header_row = [c.strip() for c in cells], n
                break
        nul_cells.pop(header_row, None)  # header text only names columns
        yield Table(path, "csv", header, header_row, stream, encoding, nul_cells=nul_cells)


@contextmanager
def _open_xlsx(path: Path) -> Iterator[Table]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl errors of a damaged workbook
        raise ValidationError(
            f"{path.name} is not a readable Excel workbook ({type(exc).__name__}); "
            "save it again from Excel or export it as CSV."
        ) from None
    shadow = None
    try:
        if not wb.worksheets:
            yield Table(path, "xlsx", [], 0, iter(()))
            return
        ws = wb.worksheets[0]
        formulas: dict[int, list[tuple[int, str]]] = {}
        shadow = _formula_shadow(path, ws)

        def numbered() -> Iterator[tuple[int, list[str]]]:
            n = 0
            try:
                values_rows = ws.iter_rows(values_only=True)
                formula_rows = shadow.iter_rows(values_only=True) if shadow else None
                for n, values in enumerate(values_rows, start=1):
                    cells = [_cell_text(v) for v in values]
                    if formula_rows is not None:
                        raw = next(formula_rows, ())
                        lost = [
                            (i, f)
                            for i, f in enumerate(raw)
                            if isinstance(f, str) and f.startswith("=")
                            and (i >= len(values) or values[i] is None)
                        ]  # fmt: skip
                        if lost:
                            formulas[n] = lost
                    yield n, cells
            except ValidationError:
                raise
            except Exception as exc:
                raise ValidationError(
                    f"{path.name} is damaged after row {n} ({type(exc).__name__}); "
                    "save it again from Excel or export it as CSV."
                ) from None

        stream = numbered()
        header: list[str] = []
        header_row = 0
        for n, cells in stream:
            if not _blank(cells):
                header, header_row = cells, n
                break
        yield Table(path, "xlsx", header, header_row, stream, formulas=formulas)
    finally:
        wb.close()
        if shadow is not None:
            shadow.parent.close()


_FORMULA_TAG = re.compile(rb"<f[ >/]")


def _formula_shadow(path: Path, ws: Any) -> Any:
    """A second read-only view with formulas, only when the sheet has formula cells at all
    (a quick scan of its XML), to tell an unsaved formula result from an empty cell."""
    import zipfile

    from openpyxl import load_workbook

    member = str(getattr(ws, "_worksheet_path", "")).lstrip("/")
    try:
        with zipfile.ZipFile(path) as z, z.open(member) as fh:
            tail = b""
            while chunk := fh.read(1 << 20):
                if _FORMULA_TAG.search(tail + chunk):
                    break
                tail = chunk[-3:]
            else:
                return None
        return load_workbook(path, read_only=True, data_only=False).worksheets[0]
    except Exception:
        return None  # the main reader reports a damaged file


# -- parsing rows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    column: str
    value: str  # masked
    reason: str


@dataclass
class Rejection:
    """A rejected row: where it is, every problem found, and the original cells for fixing."""

    row: int
    problems: list[Problem]
    cells: list[str] = field(default_factory=list, compare=False)

    # Compatibility with the single-problem shape (first problem).
    @property
    def column(self) -> str:
        return self.problems[0].column

    @property
    def value(self) -> str:
        return self.problems[0].value

    @property
    def reason(self) -> str:
        return self.problems[0].reason


def masked(column: str, value: str) -> str:
    """The value as an error file may show it: ID numbers and phones masked."""
    if column == "id_number":
        return mask_id(value)
    if column == "phone":
        return mask_phone(value)
    return value


_DIGITS = re.compile(r"\d{7,}")


def shown_header(text: str) -> str:
    """A header cell as an error message may show it: when a file has no header row, its first
    data row is taken for one, so digit runs (ID numbers, phones) are masked."""
    return (
        _DIGITS.sub(lambda m: mask_id(m.group(0)), text) if any(c.isdigit() for c in text) else text
    )


@dataclass
class Layout:
    """Where each known field sits in the header, and which columns are extra."""

    index: dict[str, int]
    extra: list[tuple[int, str]]
    width: int

    @classmethod
    def of(cls, header: list[str], where: str = "the manifest") -> Layout:
        index: dict[str, int] = {}
        extra: list[tuple[int, str]] = []
        for i, h in enumerate(header):
            key = _LOOKUP.get(header_key(h))
            if h in FIX_COLUMNS:
                continue
            if key and key not in index:
                index[key] = i
            elif h.strip() or key:
                extra.append((i, h.strip() or f"column {i + 1}"))
            else:
                extra.append((i, f"column {i + 1}"))
        missing = [k for k in REQUIRED if k not in index]
        if missing and header:
            names = ", ".join(f"{k} ({LABELS[k]})" for k in missing)
            found = ", ".join(shown_header(h) for h in header if h) or "none"
            raise ValidationError(f"{where} has no column for {names}; its headers are: {found}.")
        return cls(index, extra, len(header))


class RowParser:
    """Validates rows one by one (fast path first); remembers ID numbers for duplicates."""

    def __init__(
        self,
        layout: Layout,
        tz: ZoneInfo,
        rules: dict[str, Any] | None = None,
        today: date | None = None,
    ) -> None:
        self.layout = layout
        self.tz = tz
        rules = rules or {}
        self.t_lo = float(rules.get("temperature_min", 34.0))
        self.t_hi = float(rules.get("temperature_max", 43.0))
        self.today = today or date.today()
        self.seen: dict[str, int] = {}
        self._get = [(k, layout.index.get(k, -1)) for k in FIELDS]
        # Fast path: one C-level itemgetter picks the fields (missing ones read a padding cell).
        self._width1 = layout.width + 1
        self._pick = itemgetter(*(layout.index.get(k, layout.width) for k in FIELDS))
        self._has_extra = bool(layout.extra)
        self._dates = _DATES.get(self.today)
        self._times: dict[str, datetime | None] = {}
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
                out[f"column {i + 1}"] = cells[i]
        return out or None

    def parse(self, row: int, cells: list[str]) -> PassengerRow | Rejection:
        """A valid row as a ``PassengerRow``, else a ``Rejection`` listing every problem."""
        fast = self._fast(row, cells)
        return fast if fast is not None else self._full(row, cells)

    def _fast(self, row: int, cells: list[str]) -> PassengerRow | None:
        """The common case in a few µs; None as soon as anything needs a closer look."""
        n = len(cells)
        c = cells + [""] * (self._width1 - n) if n < self._width1 else cells
        name, idn, phone, employer, origin, code, nat, nat_t, temp_t, entry_t = self._pick(c)
        name = name.strip()
        employer = employer.strip()
        if not (name and employer and len(idn) == 18):
            return None
        if idn[17] == "x":
            idn = idn[:17] + "X"
        if (
            _ID_RE.fullmatch(idn) is None
            or idn[:2] not in _PROVINCES
            or idn[6:14] not in self._dates
            or _CHECK[(2 * int(idn[:17], 13)) % 11] != idn[17]
            or idn in self.seen
        ):
            return None
        if phone and _MOBILE_RE.fullmatch(phone) is None:
            return None
        if code:
            code = HEALTH_CODES.get(code) or HEALTH_CODES.get(code.strip().lower())
            if code is None:
                return None
        if nat:
            nat = NAT_RESULTS.get(nat) or NAT_RESULTS.get(nat.strip().lower())
            if nat is None:
                return None
        nat_time = None
        if nat_t:
            if nat_t in self._times:
                nat_time = self._times[nat_t]
            else:
                nat_time = parse_time(nat_t.strip(), self.tz)
                if len(self._times) < 4096:
                    self._times[nat_t] = nat_time
            if nat_time is None:
                return None
        temp = None
        if temp_t:
            if temp_t in self._temps:
                temp = self._temps[temp_t]
            else:
                temp = self._temperature(temp_t)
                if len(self._temps) < 4096:
                    self._temps[temp_t] = temp
            if temp is None:
                return None
        entry = False
        if entry_t:
            low = entry_t.strip().lower()
            if low in _YES:
                entry = True
            elif low not in _NO:
                return None
        self.seen[idn] = row
        return PassengerRow(
            name=name,
            id_number=idn,
            phone=phone,
            employer=employer,
            origin=origin.strip(),
            health_code=code,
            nat_result=nat,
            nat_time=nat_time,
            temperature=temp,
            extra=self.extra(cells) if self._has_extra or n > self._width1 - 1 else None,
            entry_applied=entry,
        )

    def _temperature(self, text: str) -> float | None:
        try:
            t = float(_TEMP_JUNK.sub("", text.strip()).replace(",", "."))
        except ValueError:
            return None
        return t if self.t_lo <= t <= self.t_hi else None

    def _full(self, row: int, cells: list[str]) -> PassengerRow | Rejection:
        """Every check, every problem (the slow path, for rows the fast path did not pass)."""
        v = self.values(cells)
        problems: list[Problem] = []

        def bad(column: str, key: str, value: str | None = None, **fmt: Any) -> None:
            raw = v[column] if value is None else value
            problems.append(Problem(column, masked(column, raw), REASONS[key].format(**fmt)))

        for column in REQUIRED:
            if not v[column]:
                bad(column, "required", label=f"{column} ({LABELS[column]})")
        idn = normalise_id(v["id_number"])
        if idn:
            why = id_problem(idn, self.today)
            if why == "id_length" and "E+" in idn:
                why = "id_numeric"
            if why is not None:
                bad("id_number", why, idn, n=len(idn))
            elif idn in self.seen:
                bad("id_number", "duplicate", idn, row=self.seen[idn])
        phone = normalise_phone(v["phone"]) if v["phone"] else ""
        if phone and _MOBILE_RE.fullmatch(phone) is None:
            bad("phone", "phone", phone)
        code = v["health_code"]
        if code:
            code = HEALTH_CODES.get(code.lower(), "?")
            if code == "?":
                bad("health_code", "health_code")
        nat = v["nat_result"]
        if nat:
            nat = NAT_RESULTS.get(nat.lower(), "?")
            if nat == "?":
                bad("nat_result", "nat_result")
        nat_time = None
        if v["nat_time"]:
            nat_time = parse_time(v["nat_time"], self.tz)
            if nat_time is None:
                bad("nat_time", "nat_time")
        temp = None
        if v["temperature"]:
            try:
                temp = float(_TEMP_JUNK.sub("", v["temperature"]).replace(",", "."))
            except ValueError:
                bad("temperature", "temperature")
            else:
                if not self.t_lo <= temp <= self.t_hi:  # also refuses nan and inf
                    bad("temperature", "temperature_range", lo=self.t_lo, hi=self.t_hi)
        entry = False
        if v["entry_applied"]:
            text = v["entry_applied"].lower()
            if text in _YES:
                entry = True
            elif text not in _NO:
                bad("entry_applied", "entry_applied")
        if problems:
            return Rejection(row, problems, cells)
        self.seen[idn] = row
        return PassengerRow(
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
        )


def safe_for_spreadsheet(text: str) -> str:
    """Neutralise text a spreadsheet would run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
