"""Reading field spreadsheets (CSV in UTF-8 or GBK/GB18030, XLSX) as a stream of rows.

Real sheets carry a title, notes or merged cells above the header, so the header is found, not
assumed: it is the first of the leading rows that names every required column of the kind of
file being read (a manifest, a registry list, an enterprise list — see ``Columns``). Every defect
of the file itself is one ``ValidationError`` naming the file: empty, no recognisable header,
two columns for one field, undecodable bytes, a damaged workbook. Values echoed in those
messages go through ``models.intake.identity.echo`` (masked, cut short).
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata
import zipfile
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from models.errors import ValidationError
from models.intake.identity import echo

# The header is looked for among this many leading non-blank rows.
HEADER_SCAN_ROWS = 30
# Cells of a row looked at to recognise a header (no real header is wider).
_HEADER_SCAN_CELLS = 256
_SHOWN_HEADERS = 12

_HEADER_JUNK = re.compile(r"[\s_\-*:：()（）]")


def header_key(text: Any) -> str:
    """'* 身份证号码 ' → '身份证号码'; 'ID Number' → 'idnumber' (for matching header aliases)."""
    t = unicodedata.normalize("NFKC", str(text or "")).replace("\ufeff", "").lower()
    return _HEADER_JUNK.sub("", t)


class Columns:
    """The columns of one kind of file: field → header aliases, the required fields, labels
    for messages, and header texts that are ignored (columns Convoy Ops adds itself)."""

    def __init__(
        self,
        what: str,
        aliases: Mapping[str, tuple[str, ...]],
        required: tuple[str, ...],
        labels: Mapping[str, str],
        ignored: tuple[str, ...] = (),
    ) -> None:
        self.what = what
        self.aliases = aliases
        self.required = required
        self.labels = labels
        self.ignored = ignored
        self.lookup = {header_key(a): key for key, aliases_ in aliases.items() for a in aliases_}

    def key(self, text: str) -> str | None:
        return self.lookup.get(header_key(text))

    def describe(self, key: str) -> str:
        label = self.labels.get(key)
        return f"{key} ({label})" if label and label != key else key


def column_letter(i: int) -> str:
    """0 → 'A', 26 → 'AA' (as a spreadsheet names its columns)."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


@dataclass
class Table:
    """An open file: its header (found at ``header_row``), where each known field sits, and a
    stream of (row number, cells) for the rows below the header."""

    path: Path
    kind: str  # "csv" or "xlsx"
    header: list[str]
    header_row: int
    index: dict[str, int]
    extra: list[tuple[int, str]]  # columns no field claims: (index, header text)
    ignored: dict[str, int]  # ignored header text → its index
    rows: Iterator[tuple[int, list[str]]]
    encoding: str = ""
    # XLSX: row → (column index, formula) of formula cells whose result was never saved.
    formulas: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    # CSV: row → (column index, text) of cells holding a NUL character.
    nul_cells: dict[int, list[tuple[int, str]]] = field(default_factory=dict)

    def defects(self, n: int) -> list[tuple[int, str, str]]:
        """Cell defects of row ``n`` as (column index, "formula" or "nul", text): formula
        cells without a saved result, and NUL characters (no database column stores one)."""
        found = self.formulas.pop(n, None) if self.formulas else None
        nuls = self.nul_cells.pop(n, None) if self.nul_cells else None
        if not found and not nuls:
            return []
        return [(i, "formula", f) for i, f in found or ()] + [
            (i, "nul", t.replace("\x00", "")) for i, t in nuls or ()
        ]

    def column(self, i: int) -> str:
        """The header text of column ``i`` (or its letter when it has none)."""
        h = self.header[i] if i < len(self.header) else ""
        return h or f"column {column_letter(i)}"


def detect_encoding(path: Path, chunk: int = 1 << 20) -> str:
    """'utf-8-sig' when the whole file decodes as UTF-8 (BOM or not), else 'gb18030' (GBK is
    a subset); anything else is refused with the offset of the first bad byte."""
    return _sniff(path, chunk)[0]


def _sniff(path: Path, chunk: int = 1 << 20) -> tuple[str, bool]:
    """(encoding, whether the file holds a 0x00 byte) in one read of the file (in UTF-8 and
    GB18030 only U+0000 encodes to a 0x00 byte)."""
    first_error = 0
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        offset = 0
        nul = False
        try:
            with path.open("rb") as fh:
                while data := fh.read(chunk):
                    decoder.decode(data)
                    nul = nul or b"\x00" in data
                    offset += len(data)
                decoder.decode(b"", final=True)
            return encoding, nul
        except UnicodeDecodeError as exc:
            first_error = first_error or offset + exc.start
            continue
    raise ValidationError(
        f"{path.name} is neither UTF-8 nor GBK/GB18030 text (first undecodable byte at offset "
        f"{first_error}); save it as 'CSV UTF-8' or as an Excel workbook."
    )


_SAFE_INT = 2**53  # floats below this hold whole numbers exactly


def cell_text(v: Any) -> str:
    """A cell value as text. Whole numbers stored as floats (phones typed as numbers) read
    without '.0'; a float too large to hold its digits exactly (an 18-digit ID typed as a
    number) keeps its exponent form, so that the lost digits are reported, not guessed. A
    date and time at midnight reads as the date."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < _SAFE_INT:
            return str(int(v))
        return repr(v)
    if isinstance(v, datetime):  # a day (midnight) reads as its date, as python-calamine has it
        return v.isoformat(sep=" ") if v.time() != time(0) else v.date().isoformat()
    if isinstance(v, date | time):
        return v.isoformat()
    return str(v).strip()


def blank(cells: list[str]) -> bool:
    return not any(cells) or not "".join(cells).strip()


def _shown_row(cells: list[str]) -> str:
    texts = [echo(c) for c in cells[:_SHOWN_HEADERS] if c.strip()]
    more = sum(1 for c in cells[_SHOWN_HEADERS:] if c.strip())
    return ", ".join(texts) + (f" … ({more} more)" if more else "") or "nothing"


def _find_header(
    path: Path, columns: Columns, stream: Iterator[tuple[int, list[str]]]
) -> tuple[int, list[str]]:
    """The header row: the first of the leading non-blank rows naming every required field."""
    best: tuple[int, int, list[str]] | None = None  # (fields named, row, cells)
    first: tuple[int, list[str]] | None = None
    seen = 0
    for n, cells in stream:
        if blank(cells):
            continue
        first = first or (n, cells)
        keys = {columns.key(c) for c in cells[:_HEADER_SCAN_CELLS] if c}
        keys.discard(None)
        if all(k in keys for k in columns.required):
            return n, [c.strip() for c in cells]
        if keys and (best is None or len(keys) > best[0]):
            best = (len(keys), n, cells)
        seen += 1
        if seen >= HEADER_SCAN_ROWS:
            break
    if first is None:
        raise ValidationError(f"{path.name} is empty: it has no rows with anything in them.")
    if best is not None:
        _, n, cells = best
        found = {columns.key(c) for c in cells if c}
        missing = ", ".join(columns.describe(k) for k in columns.required if k not in found)
        raise ValidationError(
            f"{path.name} has no column for {missing}; its headers (row {n}) are: "
            f"{_shown_row(cells)}."
        )
    example = ", ".join(columns.labels.get(k, k) for k in columns.required)
    raise ValidationError(
        f"{path.name} has no recognisable header row in its first {seen} non-blank row(s) "
        f"(a {columns.what} needs columns such as {example}); row {first[0]} reads: "
        f"{_shown_row(first[1])}."
    )


def _layout(
    path: Path, columns: Columns, header: list[str]
) -> tuple[dict[str, int], list[tuple[int, str]], dict[str, int]]:
    index: dict[str, int] = {}
    extra: list[tuple[int, str]] = []
    ignored: dict[str, int] = {}
    twice: dict[str, list[int]] = {}
    for i, h in enumerate(header):
        if h in columns.ignored:
            ignored.setdefault(h, i)
            continue
        key = columns.key(h) if h else None
        if key is None:
            extra.append((i, h or f"column {column_letter(i)}"))
        elif key in index:
            twice.setdefault(key, [index[key]]).append(i)
        else:
            index[key] = i
    if twice:
        key, where = next(iter(twice.items()))
        cols = " and ".join(f"{column_letter(i)} ({echo(header[i])})" for i in where)
        raise ValidationError(
            f"{path.name} has {len(where)} columns for {columns.describe(key)}: {cols}; keep "
            "one of them and import the file again."
        )
    return index, extra, ignored


def _csv_rows(
    path: Path, encoding: str, nul: bool, nul_cells: dict[int, list[tuple[int, str]]]
) -> Generator[tuple[int, list[str]]]:
    csv.field_size_limit(1 << 30)
    with path.open(encoding=encoding, newline="") as fh:
        reader = csv.reader(fh)
        n = 0
        try:
            for cells in reader:
                n += 1
                if nul and (found := [(i, c) for i, c in enumerate(cells) if "\x00" in c]):
                    nul_cells[n] = found
                yield n, cells
        except csv.Error as exc:
            raise ValidationError(
                f"{path.name} row {n + 1} cannot be read as CSV: {echo(exc)}."
            ) from None


@contextmanager
def open_table(path: Path, columns: Columns) -> Iterator[Table]:
    """Open a CSV (UTF-8 with/without BOM, or GBK/GB18030) or XLSX file for streaming, with
    its header found (see the module doc). Unreadable files raise ``ValidationError``,
    including when a defect shows up half-way."""
    if not path.exists():
        raise ValidationError(f"The {columns.what} file {path} does not exist.")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        with _xlsx_rows(path) as (stream, formulas):
            n, header = _find_header(path, columns, stream)
            index, extra, ignored = _layout(path, columns, header)
            formulas.pop(n, None)
            yield Table(path, "xlsx", header, n, index, extra, ignored, stream, formulas=formulas)
        return
    encoding, nul = _sniff(path)
    nul_cells: dict[int, list[tuple[int, str]]] = {}
    stream = _csv_rows(path, encoding, nul, nul_cells)
    try:
        n, header = _find_header(path, columns, stream)
        index, extra, ignored = _layout(path, columns, header)
        for k in [k for k in nul_cells if k <= n]:  # rows above and the header name nothing
            del nul_cells[k]
        yield Table(
            path, "csv", header, n, index, extra, ignored, stream, encoding, nul_cells=nul_cells
        )
    finally:
        stream.close()


@contextmanager
def _xlsx_rows(
    path: Path,
) -> Iterator[tuple[Iterator[tuple[int, list[str]]], dict[int, list[tuple[int, str]]]]]:
    """The first worksheet's rows, numbered as Excel numbers them, as text; and the cells whose
    formula result was not saved, filled in as the rows are read (row → [(column, formula)])."""
    if not _calamine_reads(path):
        with _xlsx_rows_with_formulas(path) as read:
            yield read
        return
    # Values only, of a sheet of ordinary size (``_calamine_reads``): python-calamine reads them
    # about ten times faster than openpyxl (20,000 rows as text: 0.4 s, where openpyxl took 2.3).
    from python_calamine import CalamineWorkbook, SheetTypeEnum

    try:
        wb = CalamineWorkbook.from_path(str(path))
        first = next((m.name for m in wb.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet), None)
        sheet = wb.get_sheet_by_name(first) if first is not None else None
    except Exception as exc:  # zip, XML and calamine errors of a damaged workbook
        raise ValidationError(
            f"{path.name} is not a readable Excel workbook ({type(exc).__name__}); "
            "save it again from Excel or export it as CSV."
        ) from None
    formulas: dict[int, list[tuple[int, str]]] = {}
    try:
        if sheet is None:
            yield iter(()), formulas
            return
        # Rows come from the sheet's first row on, cells from its first used column on.
        pad = [""] * (sheet.start[1] if sheet.start is not None else 0)

        def numbered() -> Iterator[tuple[int, list[str]]]:
            read = 0  # rows read whole
            try:
                for values in sheet.iter_rows():
                    cells = pad + [cell_text(v) for v in values]
                    read += 1
                    yield read, cells
            except Exception as exc:  # a cell calamine cannot give as a Python value
                raise _damaged(path, read, exc) from None

        yield numbered(), formulas
    finally:
        wb.close()


@contextmanager
def _xlsx_rows_with_formulas(
    path: Path,
) -> Iterator[tuple[Iterator[tuple[int, list[str]]], dict[int, list[tuple[int, str]]]]]:
    """``_xlsx_rows`` of a workbook that openpyxl must read (``_openpyxl_only``): the saved
    results as the values (an error as its text, e.g. '#N/A'; long whole numbers exact), and a
    second view with the formulas, to tell an unsaved result from an empty cell."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl errors of a damaged workbook
        raise ValidationError(
            f"{path.name} is not a readable Excel workbook ({type(exc).__name__}); "
            "save it again from Excel or export it as CSV."
        ) from None
    shadow = None
    formulas: dict[int, list[tuple[int, str]]] = {}
    try:
        if not wb.worksheets:
            yield iter(()), formulas
            return
        ws = wb.worksheets[0]
        shadow = _formula_shadow(path, ws)

        def numbered() -> Iterator[tuple[int, list[str]]]:
            n = 0
            try:
                ws.reset_dimensions()  # a sheet's stated size is often wrong: read what is there
                values_rows = ws.iter_rows(values_only=True)
                formula_rows = shadow.iter_rows(values_only=True) if shadow else None
                for n, values in enumerate(values_rows, start=1):
                    cells = [cell_text(v) for v in values]
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
                raise _damaged(path, n, exc) from None

        yield numbered(), formulas
    finally:
        wb.close()
        if shadow is not None:
            shadow.parent.close()


def _damaged(path: Path, n: int, exc: Exception) -> ValidationError:
    return ValidationError(
        f"{path.name} is damaged after row {n} ({type(exc).__name__}); "
        "save it again from Excel or export it as CSV."
    )


_FORMULA_TAG = re.compile(rb"<f[ >/]")
_LONG_NUMBER = re.compile(rb"<v>-?\d{16,}</v>")
_TAG_SPAN = 64  # bytes a tag looked for spans at most (a number: 16 to 20 digits)


def _formula(xml: bytes) -> bool:
    return _FORMULA_TAG.search(xml) is not None


def _openpyxl_only(xml: bytes) -> bool:
    """What only openpyxl reads as the file has it: a formula, a cell holding an error value (a
    pasted '#N/A' is a value, with no formula), a whole number of 16 digits or more (written by
    a program, not by Excel, which keeps 15: python-calamine would read it as a float and lose
    the last digits of an ID number). Plain substring tests first: one regular expression of
    all three took a third of the time python-calamine takes to read the sheet."""
    return (
        b"<f>" in xml
        or b"<f " in xml
        or b"<f/" in xml
        or b't="e"' in xml
        or b"t='e'" in xml
        or _LONG_NUMBER.search(xml) is not None
    )


def _member_has(z: zipfile.ZipFile, member: str, found: Callable[[bytes], bool]) -> bool:
    """Whether ``found`` holds for the XML member (read in 1 MB chunks, never whole; each chunk
    is looked at with the end of the one before, so that a tag across two is found)."""
    with z.open(member) as fh:
        tail = b""
        while chunk := fh.read(1 << 20):
            if found(tail + chunk):
                return True
            tail = chunk[-_TAG_SPAN:]
    return False


# Worksheets larger than this (as XML: about 100,000 manifest rows written cell by cell) are
# read with openpyxl, a row at a time: python-calamine holds a whole sheet in memory (about
# 150 MB for 200,000 rows).
CALAMINE_MAX_SHEET_BYTES = 64 << 20


def _calamine_reads(path: Path) -> bool:
    """Whether python-calamine reads this workbook: its worksheets hold nothing only openpyxl
    reads as the file has it (``_openpyxl_only``) and are not larger than
    ``CALAMINE_MAX_SHEET_BYTES`` together. A file that is no zip or is damaged goes to
    python-calamine, whose error the reader reports naming the file."""
    try:
        with zipfile.ZipFile(path) as z:
            sheets = [
                i for i in z.infolist()
                if i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml")
            ]  # fmt: skip
            if sum(i.file_size for i in sheets) > CALAMINE_MAX_SHEET_BYTES:
                return False
            return not any(_member_has(z, i.filename, _openpyxl_only) for i in sheets)
    except Exception:  # not a zip, or damaged
        return True


def _formula_shadow(path: Path, ws: Any) -> Any:
    """A second read-only view with formulas, only when the sheet has formula cells at all
    (a quick scan of its XML), to tell an unsaved formula result from an empty cell."""
    from openpyxl import load_workbook

    member = str(getattr(ws, "_worksheet_path", "")).lstrip("/")
    try:
        with zipfile.ZipFile(path) as z:
            if not _member_has(z, member, _formula):
                return None
        shadow = load_workbook(path, read_only=True, data_only=False).worksheets[0]
        shadow.reset_dimensions()
        return shadow
    except Exception:
        return None  # the main reader reports a damaged file
