"""Bulk manifest import into a convoy: streaming, validated, idempotent, nothing lost.

``import_manifest(session, code, path)`` reads a CSV/XLSX manifest row by row, validates every
row (``models.intake.manifest``), matches employers to enterprises (exact name, then normalised
name), refuses ID numbers already riding another active convoy, inserts the good rows in bulk and
writes the rejected ones to error files under ``output_dir/intake/<convoy>/``:

* ``<file>.errors.csv`` and ``<file>.errors.xlsx``: row, column, masked value, reason (one line
  per problem) — safe to share;
* ``<file>.for-fixing.csv`` (or ``.xlsx``): the rejected rows exactly as they were, with the
  source row and the reasons appended, to correct and import again.

``added + already on the manifest + rejected == rows read``, always; the import runs in the
caller's transaction, so a file that turns out unreadable half-way leaves nothing behind.
"""

from __future__ import annotations

import csv
import difflib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlmodel import Session

from config import Settings, get_settings
from models.convoy.lifecycle import Custody, Stage
from models.convoy.store import PassengerRow, add_passengers, get_convoy, normalise_enterprise_name
from models.convoy.tables import Convoy, Enterprise, Passenger
from models.errors import ConvoyOpsError, ValidationError
from models.intake.identity import mask_id
from models.intake.manifest import (
    FIX_COLUMNS,
    Layout,
    Problem,
    Rejection,
    RowParser,
    _blank,
    open_table,
    safe_for_spreadsheet,
)

_P = Passenger.__table__  # type: ignore[attr-defined]
_C = Convoy.__table__  # type: ignore[attr-defined]


@dataclass
class ImportReport:
    """What one import did. ``added + unchanged + rejected == read``."""

    convoy: str
    file: str
    read: int = 0
    added: int = 0
    unchanged: int = 0
    rejected: int = 0
    blank: int = 0
    problems: Counter[str] = field(default_factory=Counter)
    errors_csv: Path | None = None
    errors_xlsx: Path | None = None
    for_fixing: Path | None = None

    @property
    def imported(self) -> int:
        """Rows now on the manifest: added by this import or already there."""
        return self.added + self.unchanged

    def as_dict(self) -> dict[str, Any]:
        return {
            "convoy": self.convoy,
            "file": self.file,
            "read": self.read,
            "imported": self.imported,
            "added": self.added,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "blank": self.blank,
            "problems": dict(self.problems),
            "errors_csv": str(self.errors_csv) if self.errors_csv else None,
            "errors_xlsx": str(self.errors_xlsx) if self.errors_xlsx else None,
            "for_fixing": str(self.for_fixing) if self.for_fixing else None,
        }


class EnterpriseIndex:
    """Employer text → enterprise id: exact name, then normalised name; close matches for the
    rest. Each distinct text is looked up once."""

    def __init__(self, session: Session) -> None:
        e = Enterprise.__table__  # type: ignore[attr-defined]
        rows = session.execute(select(e.c.id, e.c.name, e.c.norm_name)).all()
        self.exact = {name: eid for eid, name, _ in rows}
        self.norm: dict[str, int] = {}
        self.names_by_norm: dict[str, str] = {}
        for eid, name, norm in rows:
            self.norm.setdefault(norm, eid)
            self.names_by_norm.setdefault(norm, name)
        self.ids: dict[str, int | None] = {}
        self.why: dict[str, str] = {}

    def match(self, employer: str) -> int | None:
        if employer in self.ids:
            return self.ids[employer]
        eid = self.exact.get(employer)
        if eid is None:
            norm = normalise_enterprise_name(employer)
            eid = self.norm.get(norm)
            if eid is None:
                self.why[employer] = self._unknown(employer, norm)
        self.ids[employer] = eid
        return eid

    def _unknown(self, employer: str, norm: str) -> str:
        if not self.exact:
            return "no enterprise is registered yet; register the employers first (convoy plan)"
        near = difflib.get_close_matches(norm, list(self.names_by_norm), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(self.names_by_norm[n] for n in near)}?" if near else ""
        return f"no registered enterprise is named {employer}{hint}"


def active_elsewhere(session: Session, convoy: Convoy) -> dict[str, tuple[str, int]]:
    """ID numbers riding another convoy that is not closed (withdrawn people are free again)."""
    rows = session.execute(
        select(_P.c.id_number, _C.c.code, _P.c.seat)
        .join(_C, _C.c.id == _P.c.convoy_id)
        .where(
            _C.c.id != convoy.id,
            _C.c.stage != Stage.CLOSED.value,
            _P.c.custody != Custody.WITHDRAWN.value,
        )
    )
    return {idn: (code, seat) for idn, code, seat in rows}


class RejectFiles:
    """Streams rejected rows to the error report (CSV + XLSX) and the file for fixing.

    Files are opened at the first rejection; an import without rejections leaves none, and
    stale files of an earlier import of the same file are removed.
    """

    def __init__(self, folder: Path, stem: str, header: list[str], kind: str) -> None:
        self.folder = folder
        self.header = header
        self.kind = kind
        self.errors_csv = folder / f"{stem}.errors.csv"
        self.errors_xlsx = folder / f"{stem}.errors.xlsx"
        self.for_fixing = folder / f"{stem}.for-fixing.{'xlsx' if kind == 'xlsx' else 'csv'}"
        for stale in (
            self.errors_csv,
            self.errors_xlsx,
            folder / f"{stem}.for-fixing.csv",
            folder / f"{stem}.for-fixing.xlsx",
        ):
            stale.unlink(missing_ok=True)
        self._open = False
        self._handles: list[TextIO] = []

    def _start(self) -> None:
        from openpyxl import Workbook

        self.folder.mkdir(parents=True, exist_ok=True)
        fh = self.errors_csv.open("w", newline="", encoding="utf-8-sig")
        self._handles.append(fh)
        self._err_csv = csv.writer(fh)
        self._err_csv.writerow(["row", "column", "value", "reason"])
        self._err_wb = Workbook(write_only=True)
        self._err_ws = self._err_wb.create_sheet("errors")
        self._err_ws.append(["row", "column", "value", "reason"])
        fix_header = [*self.header, *FIX_COLUMNS]
        if self.kind == "xlsx":
            self._fix_wb = Workbook(write_only=True)
            self._fix_ws = self._fix_wb.create_sheet("for fixing")
            self._fix_ws.append(self._cells(fix_header))
        else:
            fh2 = self.for_fixing.open("w", newline="", encoding="utf-8-sig")
            self._handles.append(fh2)
            self._fix_csv = csv.writer(fh2)
            self._fix_csv.writerow(fix_header)
        self._open = True

    def _cells(self, values: list[Any]) -> list[Any]:
        """Cells an XLSX row can hold: no control characters, text never run as a formula."""
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        out: list[Any] = []
        for v in values:
            if isinstance(v, str):
                v = ILLEGAL_CHARACTERS_RE.sub("\ufffd", v)
            if isinstance(v, str) and v.startswith("="):
                cell = WriteOnlyCell(self._err_ws, v)
                cell.data_type = "s"  # text, not a formula
                out.append(cell)
            else:
                out.append(v)
        return out

    def add(self, rej: Rejection) -> None:
        if not self._open:
            self._start()
        for p in rej.problems:
            self._err_csv.writerow([rej.row, p.column, safe_for_spreadsheet(p.value), p.reason])
            self._err_ws.append(self._cells([rej.row, p.column, p.value, p.reason]))
        width = len(self.header)
        cells = list(rej.cells[:width]) + [""] * (width - len(rej.cells))
        tail = [c for c in rej.cells[width:] if c]  # cells beyond the header: keep them
        reasons = "; ".join(f"{p.column}: {p.reason}" for p in rej.problems)
        row = [
            *cells,
            str(rej.row),
            reasons + (f" (extra cells: {' | '.join(tail)})" if tail else ""),
        ]
        if self.kind == "xlsx":
            self._fix_ws.append(self._cells(row))
        else:
            self._fix_csv.writerow(row)

    def close(self) -> tuple[Path | None, Path | None, Path | None]:
        if not self._open:
            return None, None, None
        for fh in self._handles:
            fh.close()
        self._err_wb.save(self.errors_xlsx)
        if self.kind == "xlsx":
            self._fix_wb.save(self.for_fixing)
        return self.errors_csv, self.errors_xlsx, self.for_fixing


def import_manifest(
    session: Session,
    code: str,
    path: Path,
    *,
    settings: Settings | None = None,
    actor: str = "manifest import",
) -> ImportReport:
    """Import a manifest file into convoy ``code`` (see the module doc). Idempotent."""
    settings = settings or get_settings()
    convoy = get_convoy(session, code)
    if convoy.stage != Stage.PLANNED.value:
        raise ValidationError(
            f"Convoy {convoy.code} is at stage {convoy.stage}; a manifest can only be imported "
            "while it is planned."
        )
    report = ImportReport(convoy.code, str(path))
    rules = settings.rules().get("screening", {})
    enterprises = EnterpriseIndex(session)
    elsewhere = active_elsewhere(session, convoy)
    with open_table(path) as table:
        sink = RejectFiles(
            settings.output_dir / "intake" / convoy.code, path.stem, table.header, table.kind
        )
        if not table.header:
            return report
        parser = RowParser(Layout.of(table.header, path.name), settings.tz, rules)

        def reject(rej: Rejection) -> None:
            report.rejected += 1
            for p in rej.problems:
                report.problems[p.column] += 1
            sink.add(rej)

        def good_rows() -> Iterator[PassengerRow]:
            for n, cells in table.rows:
                lost = table.row_problems(n)
                if lost:
                    report.read += 1
                    reject(Rejection(n, lost, cells))
                    continue
                if _blank(cells):
                    report.blank += 1
                    continue
                report.read += 1
                row = parser.parse(n, cells)
                if isinstance(row, Rejection):
                    reject(row)
                    continue
                problems: list[Problem] = []
                if enterprises.match(row.employer) is None:
                    problems.append(
                        Problem("employer", row.employer, enterprises.why[row.employer])
                    )
                other = elsewhere.get(row.id_number)
                if other is not None:
                    problems.append(
                        Problem(
                            "id_number",
                            mask_id(row.id_number),
                            f"this person is already on convoy {other[0]} (seat {other[1]}); "
                            "one person cannot ride two convoys",
                        )
                    )
                if problems:
                    reject(Rejection(n, problems, cells))
                    continue
                yield row

        try:
            report.added, report.unchanged = add_passengers(
                session, convoy, good_rows(), actor=actor, enterprise_ids=enterprises.ids
            )
        finally:
            report.errors_csv, report.errors_xlsx, report.for_fixing = sink.close()
    if report.added + report.unchanged + report.rejected != report.read:
        raise ConvoyOpsError(
            f"The import of {path.name} lost rows: {report.read} read but {report.added} added, "
            f"{report.unchanged} already there and {report.rejected} rejected. Nothing was saved."
        )
    return report
