"""The files an import leaves for the coordinator, under ``output_dir/intake/<convoy>/``:

* ``<file>.errors.csv`` — every problem of every rejected row (and that row's warnings), one
  line each: row, seat, level, column, code, masked value, reason — safe to share;
* ``<file>.warnings.csv`` — the warnings of the rows that were imported;
* ``<file>.errors.xlsx`` — both, as the sheets ``errors`` and ``warnings``;
* ``<file>.for-fixing.csv`` (or ``.xlsx``) — the rejected rows exactly as they were, with the
  source row (``_row``, which is also the seat when the file has no seat column) and the
  reasons appended, to correct and import again. It holds full personal data by design, so it
  is written readable by its owner only (mode 0600).

The files are written beside their final names and put in place only when the import
succeeds: a failed import leaves the earlier reports as they were; a clean one removes them.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, TextIO

from models.intake.manifest import FIX_COLUMNS, Problem, safe_for_spreadsheet

COLUMNS = ["row", "seat", "level", "column", "code", "value", "reason"]


class ReportFiles:
    """Streams problems and warnings to the report files (see the module doc)."""

    def __init__(self, folder: Path, stem: str, header: list[str], kind: str) -> None:
        self.folder = folder
        self.header = header
        self.kind = kind
        fix_ext = "xlsx" if kind == "xlsx" else "csv"
        self.paths = {
            "errors_csv": folder / f"{stem}.errors.csv",
            "warnings_csv": folder / f"{stem}.warnings.csv",
            "errors_xlsx": folder / f"{stem}.errors.xlsx",
            "for_fixing": folder / f"{stem}.for-fixing.{fix_ext}",
        }
        self._stale = [
            *self.paths.values(),
            folder / f"{stem}.for-fixing.{'csv' if kind == 'xlsx' else 'xlsx'}",
        ]
        self._written: dict[str, Path] = {}  # key → temporary path
        self._handles: list[TextIO] = []
        self._writers: dict[str, Any] = {}
        self._wb: Any = None
        self._fix_wb: Any = None
        # Where the columns Convoy Ops adds go (a file for fixing read back has them already).
        self._fix_at = [header.index(c) if c in header else -1 for c in FIX_COLUMNS]
        self._fix_header = [*header, *(c for c in FIX_COLUMNS if c not in header)]

    # -- writing ------------------------------------------------------------------------------
    def _tmp(self, key: str) -> Path:
        final = self.paths[key]
        tmp = final.with_name(f".{final.name}.{os.getpid()}.part")
        self._written[key] = tmp
        return tmp

    def _csv(self, key: str, header: list[str], private: bool = False) -> Any:
        w = self._writers.get(key)
        if w is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self._tmp(key)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
            fh = os.fdopen(fd, "w", newline="", encoding="utf-8-sig")
            self._handles.append(fh)
            w = self._writers[key] = csv.writer(fh)
            w.writerow(header)
        return w

    def _sheet(self, name: str) -> Any:
        if self._wb is None:
            from openpyxl import Workbook

            self._wb = Workbook(write_only=True)
            self._sheets = {s: self._wb.create_sheet(s) for s in ("errors", "warnings")}
            for ws in self._sheets.values():
                ws.append(COLUMNS)
        return self._sheets[name]

    def _cells(self, ws: Any, values: list[Any]) -> list[Any]:
        """Cells an XLSX row can hold: no control characters, text never run as a formula."""
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        out: list[Any] = []
        for v in values:
            if isinstance(v, str):
                v = ILLEGAL_CHARACTERS_RE.sub("\ufffd", v)
                if v.startswith("="):
                    cell = WriteOnlyCell(ws, v)
                    cell.data_type = "s"  # text, not a formula
                    v = cell
            out.append(v)
        return out

    def _lines(
        self, key: str, sheet: str, n: int, seat: int, level: str, ps: list[Problem]
    ) -> None:
        w = self._csv(key, COLUMNS)
        ws = self._sheet(sheet)
        for p in ps:
            w.writerow([n, seat or "", level, p.column, p.code, safe_for_spreadsheet(p.value),
                        p.reason])  # fmt: skip
            ws.append(
                self._cells(ws, [n, seat or None, level, p.column, p.code, p.value, p.reason])
            )

    def warn(self, n: int, seat: int, warnings: list[Problem]) -> None:
        """The warnings of an imported row."""
        self._lines("warnings_csv", "warnings", n, seat, "warning", warnings)

    def reject(
        self, n: int, seat: int, cells: list[str], problems: list[Problem],
        warnings: list[Problem], row_value: str,
    ) -> None:  # fmt: skip
        """A rejected row: its problems and warnings, and the row itself for fixing."""
        self._lines("errors_csv", "errors", n, seat, "error", problems)
        if warnings:
            self._lines("errors_csv", "errors", n, seat, "warning", warnings)
        width = len(self.header)
        row = list(cells[:width]) + [""] * (width - len(cells))
        tail = [c for c in cells[width:] if c]  # cells beyond the header: keep them
        reasons = "; ".join(f"{p.column}: {p.reason}" for p in (*problems, *warnings))
        reasons += f" (extra cells: {' | '.join(tail)})" if tail else ""
        for at, value in zip(self._fix_at, (row_value, reasons), strict=True):
            if at >= 0:
                row[at] = value
            else:
                row.append(value)
        if self.kind == "xlsx":
            if self._fix_wb is None:
                from openpyxl import Workbook

                self._fix_wb = Workbook(write_only=True)
                self._fix_ws = self._fix_wb.create_sheet("for fixing")
                self._fix_ws.append(self._cells(self._fix_ws, self._fix_header))
            self._fix_ws.append(self._cells(self._fix_ws, row))
        else:
            self._csv("for_fixing", self._fix_header, private=True).writerow(row)

    # -- finishing ----------------------------------------------------------------------------
    def _close(self) -> None:
        for fh in self._handles:
            fh.close()
        self._handles.clear()
        if self._wb is not None:
            self._wb.save(self._tmp("errors_xlsx"))
            self._wb = None
        if self._fix_wb is not None:
            tmp = self._tmp("for_fixing")
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            self._fix_wb.save(tmp)
            os.chmod(tmp, 0o600)
            self._fix_wb = None

    def commit(self) -> dict[str, Path | None]:
        """Put the new files in place of the earlier ones; returns the final paths by key."""
        self._close()
        out: dict[str, Path | None] = dict.fromkeys(self.paths)
        for key, tmp in self._written.items():
            os.replace(tmp, self.paths[key])
            out[key] = self.paths[key]
        for path in self._stale:
            if path not in out.values():
                path.unlink(missing_ok=True)
        self._written.clear()
        return out

    def discard(self) -> None:
        """Remove what this import wrote; earlier reports stay."""
        try:
            self._close()
        finally:
            for tmp in self._written.values():
                tmp.unlink(missing_ok=True)
            self._written.clear()
