"""Batch checks of an enterprise's own list of returning staff (复工人员批量核查).

The list is a CSV/XLSX with the manifest's identity columns (姓名/name, 身份证号/id_number,
optionally 手机号/phone), its header found and its ID numbers checked as the manifest import
does (``models.intake.sheets``, ``models.intake.identity``). Every valid ID number is compared
in bulk with the registry lists — the pre-verification engine
(``models.intake.verification.configured_registry`` and ``compare``) — and with the manifests
of the active convoys. Each person comes out *cleared*, *attention* (with the PUBLIC wording of
the registry category, ``models.labels.DESK``; never the registry's own category or reason)
or *invalid* (the row cannot be checked). Only the masked result is stored; the counts are kept
with the check.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session, col

from config import Settings, get_settings
from models.access.users import require
from models.convoy.lifecycle import Custody, Stage
from models.convoy.tables import Convoy, Passenger
from models.db import in_chunks
from models.desk.lookup import campaign_id
from models.desk.tables import StaffCheck, StaffCheckRow
from models.errors import NotFoundError, ValidationError
from models.intake.identity import id_problem, mask_id, mask_name, normalise_id
from models.intake.manifest import HEADERS, safe_for_spreadsheet
from models.intake.sheets import Columns, blank, open_table
from models.intake.verification import Registry, compare, configured_registry
from models.labels import COLUMNS, label, local_time
from models.permits.days import at_or_now

STAFF_LIST = Columns(
    "staff list",
    {k: HEADERS[k] for k in ("name", "id_number", "phone")},
    ("name", "id_number"),
    dict(COLUMNS["zh-CN"]),
)
# Registry categories whose public wording says what to do; any other (or none) is worded
# "needs a further check: contact your liaison officer".
PUBLIC_CATEGORIES = ("travel_restriction", "quarantine_order", "already_returned")
_R = StaffCheckRow.__table__  # type: ignore[attr-defined]


def public_reason(category: str) -> str:
    """The key of the public wording (``public.<key>`` in ``models.labels.DESK``) for a
    registry category (several, merged as 'a; b', word as the least telling)."""
    cats = [c.strip() for c in (category or "").split(";") if c.strip()]
    if not cats or any(c not in PUBLIC_CATEGORIES for c in cats):
        return "contact_officer"
    return cats[0]


@dataclass
class Person:
    row: int
    name: str
    id_number: str
    outcome: str = "cleared"
    reason: str = "cleared"


@dataclass
class CheckResult:
    check_id: int
    enterprise: str
    file_name: str
    read: int
    checked: int
    cleared: int
    attention: int
    invalid: int
    by_reason: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check_id, "enterprise": self.enterprise, "file": self.file_name,
            "read": self.read, "checked": self.checked, "cleared": self.cleared,
            "attention": self.attention, "invalid": self.invalid, "by_reason": self.by_reason,
        }  # fmt: skip


def read_staff_list(path: Path) -> list[Person]:
    """The people of a staff list with rows that cannot be checked marked ``invalid``."""
    people: list[Person] = []
    seen: dict[str, int] = {}
    with open_table(path, STAFF_LIST) as table:
        ni, ii = table.index["name"], table.index["id_number"]
        for n, cells in table.rows:
            if blank(cells):
                continue
            name = cells[ni].strip() if ni < len(cells) else ""
            idn = normalise_id(cells[ii] if ii < len(cells) else "")
            person = Person(n, name, idn)
            if not name or not idn:
                person.outcome, person.reason = "invalid", "missing_field"
            elif id_problem(idn) is not None:
                person.outcome, person.reason = "invalid", "id_invalid"
            elif idn in seen:
                person.outcome, person.reason = "invalid", "duplicate_in_file"
            else:
                seen[idn] = n
            people.append(person)
    return people


def on_active_convoys(session: Session, ids: list[str]) -> set[str]:
    """Which of ``ids`` ride a convoy that is not closed (withdrawn passengers do not)."""
    found: set[str] = set()
    for chunk in in_chunks(ids):
        found |= set(
            session.execute(
                select(col(Passenger.id_number))
                .join(Convoy, col(Convoy.id) == Passenger.convoy_id)
                .where(
                    col(Passenger.id_number).in_(chunk),
                    col(Convoy.stage) != Stage.CLOSED.value,
                    col(Passenger.custody) != Custody.WITHDRAWN.value,
                )
            ).scalars()
        )
    return found


def judge(people: list[Person], registry: Registry, riding: set[str]) -> None:
    """Set each checkable person's outcome: listed in a registry → attention with the public
    wording of the category; else on an active convoy → attention; else cleared."""
    todo = [p for p in people if p.outcome != "invalid"]
    for person, entry in zip(todo, compare([p.id_number for p in todo], registry), strict=True):
        if entry is not None:
            person.outcome, person.reason = "attention", public_reason(entry.category)
        elif person.id_number in riding:
            person.outcome, person.reason = "attention", "on_convoy"


def check_staff_list(
    session: Session,
    enterprise_id: int,
    path: Path,
    *,
    channel: str = "cli",
    file_name: str | None = None,
    at: datetime | None = None,
    campaign: str | None = None,
    registry: Registry | None = None,
    settings: Settings | None = None,
) -> CheckResult:
    """Check a staff list of the enterprise and keep the masked result and its counts."""
    from models.convoy.tables import Enterprise

    require(session, "desk.raise", enterprise_id=enterprise_id)
    ent = session.get(Enterprise, enterprise_id)
    if ent is None:
        raise NotFoundError(f"There is no enterprise #{enterprise_id}.")
    people = read_staff_list(path)
    if not people:
        raise ValidationError(f"{file_name or path.name} lists nobody under its header.")
    registry = registry if registry is not None else configured_registry(settings)
    checkable = [p.id_number for p in people if p.outcome != "invalid"]
    judge(people, registry, on_active_convoys(session, checkable))
    outcomes = Counter(p.outcome for p in people)
    reasons = Counter(p.reason for p in people if p.outcome != "cleared")
    check = StaffCheck(
        campaign_id=campaign_id(session, campaign),
        enterprise_id=enterprise_id,
        at=at_or_now(at),
        channel=channel,
        file_name=(file_name or path.name)[:200],
        read=len(people),
        checked=len(checkable),
        cleared=outcomes["cleared"],
        attention=outcomes["attention"],
        invalid=outcomes["invalid"],
        by_reason=dict(sorted(reasons.items())),
    )
    session.add(check)
    session.flush()
    rows = [
        {"check_id": check.id, "row": p.row, "name": mask_name(p.name),
         "id_number": mask_id(p.id_number) if p.id_number else "", "outcome": p.outcome,
         "reason": p.reason}
        for p in people
    ]  # fmt: skip
    for i in range(0, len(rows), 5000):
        session.connection().execute(insert(_R), rows[i : i + 5000])
    return CheckResult(
        check.id or 0, ent.name, check.file_name, check.read, check.checked, check.cleared,
        check.attention, check.invalid, check.by_reason,
    )  # fmt: skip


def get_check(session: Session, check_id: int, enterprise_id: int | None = None) -> StaffCheck:
    """A staff check (of ``enterprise_id`` when given: another enterprise's is not found)."""
    check = session.get(StaffCheck, check_id)
    if check is None or (enterprise_id is not None and check.enterprise_id != enterprise_id):
        raise NotFoundError(f"There is no staff check #{check_id}.")
    require(session, "desk.read", enterprise_id=check.enterprise_id)
    return check


def list_checks(
    session: Session, enterprise_id: int | None = None, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Staff checks, newest first (of one enterprise when given), with their counts."""
    require(session, "desk.read", enterprise_id=enterprise_id)
    stmt = select(StaffCheck).order_by(col(StaffCheck.id).desc())
    if enterprise_id is not None:
        stmt = stmt.where(col(StaffCheck.enterprise_id) == enterprise_id)
    return [
        {"check": c.id, "at": local_time(c.at, settings), "file": c.file_name,
         "channel": c.channel, "read": c.read, "checked": c.checked, "cleared": c.cleared,
         "attention": c.attention, "invalid": c.invalid, "by_reason": c.by_reason}
        for c in session.execute(stmt).scalars()
    ]  # fmt: skip


SHEET_COLUMNS = ("row", "name", "id_number", "outcome", "note")


def result_rows(
    session: Session, check_id: int, enterprise_id: int | None = None, locale: str | None = None
) -> list[dict[str, Any]]:
    """The masked result sheet of a check: row, masked name and ID, outcome, public note."""
    check = get_check(session, check_id, enterprise_id)
    loc = locale or get_settings().locale
    rows = session.execute(
        select(StaffCheckRow).where(col(StaffCheckRow.check_id) == check.id).order_by(
            col(StaffCheckRow.row))
    ).scalars()  # fmt: skip
    return [
        {"row": r.row, "name": r.name, "id_number": r.id_number,
         "outcome": label("desk", f"outcome.{r.outcome}", loc),
         "note": label("desk", f"public.{r.reason}", loc)}
        for r in rows
    ]  # fmt: skip


def _headers(loc: str) -> list[str]:
    if loc == "en":
        return ["row", "name", "ID number", "result", "note"]
    return ["行号", "姓名", "身份证号", "核查结果", "说明"]


def result_csv(rows: list[dict[str, Any]], locale: str) -> bytes:
    """The result sheet as CSV (UTF-8 with BOM, as spreadsheets open it)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_headers(locale))
    for r in rows:
        writer.writerow([safe_for_spreadsheet(str(r[k])) for k in SHEET_COLUMNS])
    return out.getvalue().encode("utf-8-sig")


def result_xlsx(rows: list[dict[str, Any]], locale: str) -> bytes:
    """The result sheet as an XLSX workbook."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("result")
    ws.append(_headers(locale))
    for r in rows:
        ws.append([r["row"], *(safe_for_spreadsheet(str(r[k])) for k in SHEET_COLUMNS[1:])])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_result(
    session: Session, check_id: int, folder: Path, locale: str | None = None
) -> tuple[Path, Path]:
    """Write the masked result sheet of a check as CSV and XLSX into ``folder``."""
    loc = locale or get_settings().locale
    rows = result_rows(session, check_id, locale=loc)
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"staff-check-{check_id}"
    csv_path, xlsx_path = stem.with_suffix(".csv"), stem.with_suffix(".xlsx")
    csv_path.write_bytes(result_csv(rows, loc))
    xlsx_path.write_bytes(result_xlsx(rows, loc))
    return csv_path, xlsx_path
