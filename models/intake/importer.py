"""Bulk manifest import into a convoy: streaming, checked, idempotent, nothing lost.

``import_manifest(session, code, path)`` reads a CSV/XLSX manifest row by row under its
detected header (``models.intake.sheets``), checks every row (``models.intake.manifest``),
matches employers (``models.intake.enterprises``: never a guess), refuses ID numbers riding
another active convoy, and inserts the good rows in bulk, each at its own seat: the sheet's 序号
(or ``seat``) column when it has one, else the row's number in the file. Problems and warnings go
to the report files (``models.intake.reports``).

A row already on the manifest with the same name and phone is *already* there; with another
name or phone it is a *conflict* — rejected, never overwritten. ``imported + rejected == read``
(imported = added + already), always; the import runs in the caller's transaction, so a file
that turns out unreadable half-way leaves nothing behind, and its earlier reports stay.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from config import Settings, get_settings
from models.convoy.lifecycle import Custody, Stage
from models.convoy.store import PassengerRow, add_passengers, get_convoy
from models.convoy.tables import Convoy, Passenger
from models.db import in_chunks
from models.errors import ConvoyOpsError, ValidationError
from models.intake.enterprises import EnterpriseIndex
from models.intake.identity import echo, mask_id, mask_name, mask_phone, normalise_phone
from models.intake.manifest import (
    MANIFEST,
    Flagged,
    Layout,
    Problem,
    Read,
    RowParser,
    check_rows,
)
from models.intake.reports import ReportFiles
from models.intake.sheets import open_table

_P = Passenger.__table__  # type: ignore[attr-defined]
_C = Convoy.__table__  # type: ignore[attr-defined]
LOOKUP_CHUNK = 2000  # rows read before their ID numbers are looked up (``in_chunks`` at a time)


@dataclass
class ImportReport:
    """What one import did. ``imported + rejected == read``; imported = added + already."""

    convoy: str
    file: str
    header_row: int = 0
    read: int = 0
    added: int = 0
    already: int = 0
    rejected: int = 0
    conflicts: int = 0
    warnings: int = 0  # imported rows with at least one warning
    blank: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    warning_reasons: Counter[str] = field(default_factory=Counter)
    unknown_columns: list[str] = field(default_factory=list)
    files: dict[str, Path | None] = field(default_factory=dict)

    @property
    def imported(self) -> int:
        """Rows now on the manifest: added by this import or already there."""
        return self.added + self.already

    def file_of(self, key: str) -> Path | None:
        return self.files.get(key)

    def as_dict(self) -> dict[str, Any]:
        def path(key: str) -> str | None:
            p = self.files.get(key)
            return str(p) if p else None

        return {
            "convoy": self.convoy,
            "file": self.file,
            "header_row": self.header_row,
            "read": self.read,
            "imported": self.imported,
            "added": self.added,
            "already": self.already,
            "rejected": self.rejected,
            "conflicts": self.conflicts,
            "warnings": self.warnings,
            "blank": self.blank,
            "reasons": dict(self.reasons),
            "warning_reasons": dict(self.warning_reasons),
            "unknown_columns": self.unknown_columns,
            "errors_file": path("errors_xlsx"),
            "fixing_file": path("for_fixing"),
            "errors_csv": path("errors_csv"),
            "warnings_csv": path("warnings_csv"),
        }


def active_elsewhere(
    session: Session, convoy: Convoy, id_numbers: Collection[str]
) -> dict[str, tuple[str, int]]:
    """Which of ``id_numbers`` ride another convoy that is not closed (withdrawn people are
    free again), with that convoy's code and the seat. Looked up by ID number, so an import
    costs the size of its file, not of every manifest already loaded."""
    wanted = sorted(set(filter(None, id_numbers)))
    out: dict[str, tuple[str, int]] = {}
    for chunk in in_chunks(wanted):
        rows = session.execute(
            select(_P.c.id_number, _C.c.code, _P.c.seat)
            .join(_C, _C.c.id == _P.c.convoy_id)
            .where(
                _P.c.id_number.in_(chunk),
                _C.c.id != convoy.id,
                _C.c.stage != Stage.CLOSED.value,
                _P.c.custody != Custody.WITHDRAWN.value,
            )
        )
        out.update({idn: (code, seat) for idn, code, seat in rows})
    return out


class _Checks:
    """The checks that need the database: employer, other convoys, this manifest, seats."""

    def __init__(self, session: Session, convoy: Convoy) -> None:
        self.session, self.convoy = session, convoy
        self.enterprises = EnterpriseIndex(session)
        self.elsewhere: dict[str, tuple[str, int]] = {}  # of the rows being checked
        rows = session.execute(
            select(_P.c.id_number, _P.c.seat, _P.c.name, _P.c.phone).where(
                _P.c.convoy_id == convoy.id
            )
        ).all()
        self.mine = {idn: (seat, name, phone) for idn, seat, name, phone in rows}
        self.seat_owner = {seat: idn for idn, seat, _, _ in rows}
        self.seats_in_file: dict[int, int] = {}

    def look_up(self, id_numbers: Collection[str]) -> None:
        """Read who of ``id_numbers`` (the next rows to check) rides another convoy."""
        self.elsewhere = active_elsewhere(self.session, self.convoy, id_numbers)

    def problems(
        self, n: int, idn: str, name: str, phone: str, employer: str, seat: int
    ) -> tuple[list[Problem], bool]:
        """(problems, already on the manifest) of one row; the problems may include a
        conflict (``id_conflict``)."""
        out: list[Problem] = []
        if employer:
            m = self.enterprises.match(employer)
            if m.id is None:
                out.append(Problem("employer", echo(employer), m.reason, m.code))
        already = False
        if idn:
            other = self.elsewhere.get(idn)
            if other is not None:
                out.append(
                    Problem(
                        "id_number", mask_id(idn),
                        f"this person is already on convoy {other[0]} (seat {other[1]}); one "
                        "person cannot ride two convoys", "duplicate_other_convoy",
                    )
                )  # fmt: skip
            mine = self.mine.get(idn)
            if mine is not None:
                m_seat, m_name, m_phone = mine
                if m_name != name or (phone and m_phone != phone):
                    what = (
                        f"name {mask_name(m_name)}" if m_name != name
                        else f"phone {mask_phone(m_phone)}"
                    )  # fmt: skip
                    out.append(
                        Problem(
                            "id_number", mask_id(idn),
                            f"this ID number is already on the manifest at seat {m_seat} with "
                            f"another {what}; correct the file, or take the passenger off the "
                            "manifest first", "id_conflict",
                        )
                    )  # fmt: skip
                else:
                    already = True
        if seat:
            first = self.seats_in_file.setdefault(seat, n)
            owner = self.seat_owner.get(seat)
            if first != n:
                out.append(
                    Problem("seat", str(seat), f"seat {seat} is already given to row {first}",
                            "duplicate_seat")
                )  # fmt: skip
            elif owner is not None and owner != idn:
                out.append(
                    Problem(
                        "seat", str(seat),
                        f"seat {seat} is taken on the manifest by {mask_id(owner)}; one convoy "
                        "has one seat list: number this file on from the other one",
                        "seat_taken",
                    )
                )  # fmt: skip
        return out, already


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
    rules = settings.rule_set.screening
    checks = _Checks(session, convoy)
    with open_table(path, MANIFEST) as table:
        report.header_row = table.header_row
        report.unknown_columns = [name for _, name in table.extra]
        layout = Layout.of_table(table)
        seat_column = "seat" in layout.index
        parser = RowParser(layout, settings.tz, rules, departure=convoy.planned_departure)
        files = ReportFiles(
            settings.output_dir / "intake" / convoy.code, path.stem, table.header, table.kind
        )
        counts = Read()

        def checked() -> Iterator[tuple[int, list[str], PassengerRow | Flagged]]:
            """The rows read, a chunk at a time, each chunk's ID numbers looked up first."""
            rows = check_rows(table, parser, counts)
            while chunk := list(islice(rows, LOOKUP_CHUNK)):
                checks.look_up([out.id_number for _, _, out in chunk])
                yield from chunk

        def good_rows() -> Iterator[PassengerRow]:
            judge = checks.problems
            known, mine = checks.enterprises.ids, checks.mine
            owner, seats = checks.seat_owner, checks.seats_in_file
            for n, cells, out in checked():
                elsewhere = checks.elsewhere
                if type(out) is PassengerRow:
                    idn, seat_ = out.id_number, out.seat or 0
                    if (  # the common case: nothing to look at closer
                        known.get(out.employer) is not None
                        and idn not in elsewhere
                        and idn not in mine
                        and seat_ not in owner
                        and seats.setdefault(seat_, n) == n
                    ):
                        yield out
                        continue
                    row: PassengerRow | None = out
                    problems, already = judge(
                        n, out.id_number, out.name, out.phone, out.employer, out.seat or 0
                    )
                    if not problems:
                        if already:
                            report.already += 1
                        else:
                            yield out
                        continue
                    warnings: list[Problem] = []
                    seat = out.seat or 0
                else:
                    assert isinstance(out, Flagged)
                    v = out.values
                    phone = normalise_phone(v.get("phone", ""))
                    more, already = judge(
                        n, out.id_number, v.get("name", ""), phone, v.get("employer", ""),
                        out.seat,
                    )  # fmt: skip
                    row, problems, warnings, seat = (
                        out.row,
                        [*out.problems, *more],
                        out.warnings,
                        out.seat,
                    )
                if problems:
                    report.rejected += 1
                    report.reasons.update(p.code for p in problems)
                    report.conflicts += any(p.code == "id_conflict" for p in problems)
                    files.reject(
                        n, seat, cells, problems, warnings, str(n if seat_column else seat or n)
                    )
                    continue
                if warnings:
                    report.warnings += 1
                    report.warning_reasons.update(p.code for p in warnings)
                    files.warn(n, seat, warnings)
                if already:
                    report.already += 1
                elif row is not None:
                    yield row

        try:
            # Streamed: ``add_passengers`` reads a whole insert chunk (5,000 rows, more than any
            # charter carries) before its first write, so the database's one writer (SQLite) is
            # held for the inserts only; a longer file keeps memory flat.
            report.added, skipped = add_passengers(
                session,
                convoy,
                good_rows(),
                actor=actor,
                enterprise_ids=checks.enterprises.ids,
            )
            report.read, report.blank = counts.read, counts.blank
            if report.read == 0:
                raise ValidationError(
                    f"{path.name} has a header row (row {table.header_row}) but no passenger rows "
                    "below it."
                )
            if report.added + report.already + report.rejected != report.read or skipped:
                raise ConvoyOpsError(
                    f"The import of {path.name} lost rows: {report.read} read but "
                    f"{report.added} added, {report.already} already there and "
                    f"{report.rejected} rejected. Nothing was saved."
                )
        except BaseException:
            files.discard()
            raise
        report.files = files.commit()
    return report
