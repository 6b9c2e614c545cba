"""Fleet lists: the vehicles of one application read from a CSV/XLSX sheet.

The header is found below title rows by the intake's sheet reader (``models.intake.sheets``):
Chinese headers such as 车牌号 / 车辆类型 / 驾驶员 / 联系电话 (English ``plate`` … too). Every row
is checked — the plate (new-energy plates included), the type (or the default type given), the
driver's phone, a plate twice in the list, a plate on another open application — and every
bad row is reported with its row, column and reason in the report files of a manifest import
(``models.intake.reports``: ``NAME.errors.csv/.xlsx`` and the rows to fix in
``NAME.for-fixing.csv/.xlsx``, under ``output_dir/permits/fleets/``). Nothing is lost: each
row read is either a vehicle or a reported row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from config import Settings, get_settings
from models.errors import ConvoyOpsError, ValidationError
from models.intake.identity import echo, is_mobile, mask_phone, normalise_phone
from models.intake.manifest import FIX_COLUMNS, Problem
from models.intake.reports import ReportFiles
from models.intake.sheets import Columns, Table, blank, open_table
from models.labels import labels
from models.permits.lifecycle import Vehicle, open_plates
from models.permits.plates import normalise_plate, plate_problem

FLEET_HEADERS: dict[str, tuple[str, ...]] = {
    "plate": ("plate", "车牌号", "车牌号码", "车牌", "号牌号码", "号牌"),
    "vehicle_type": ("vehicle_type", "vehicle type", "车辆类型", "车型", "车辆种类", "类型"),
    "driver": ("driver", "驾驶员", "驾驶人", "司机", "驾驶员姓名"),
    "driver_phone": (
        "driver_phone", "phone", "联系电话", "电话", "手机", "手机号", "驾驶员电话", "司机电话",
    ),
}  # fmt: skip
# The columns as report files name them: the sheets' language (models.labels.PERMITS).
FLEET_LABELS = {k: labels("permits", "zh-CN")[k] for k in FLEET_HEADERS}
FLEET = Columns("fleet list", FLEET_HEADERS, ("plate",), FLEET_LABELS, ignored=FIX_COLUMNS)


@dataclass
class SheetReport:
    """What reading a sheet gave: rows read, the good ones, the rejected ones and why."""

    file: str
    header_row: int = 0
    read: int = 0
    rejected: int = 0
    problems: list[tuple[int, Problem]] = field(default_factory=list)  # (row, problem)
    files: dict[str, Path | None] = field(default_factory=dict)

    def first_problem(self) -> str:
        if not self.problems:
            return ""
        n, p = self.problems[0]
        return f"row {n}, {p.column}: {p.reason}"

    def as_dict(self) -> dict[str, Any]:
        def path(key: str) -> str | None:
            p = self.files.get(key)
            return str(p) if p else None

        return {
            "file": self.file,
            "header_row": self.header_row,
            "read": self.read,
            "rejected": self.rejected,
            "problems": [
                {"row": n, "column": p.column, "code": p.code, "value": p.value, "reason": p.reason}
                for n, p in self.problems
            ],
            "errors_file": path("errors_xlsx"),
            "errors_csv": path("errors_csv"),
            "fixing_file": path("for_fixing"),
        }


def cell(table: Table, cells: list[str], key: str) -> str:
    i = table.index.get(key)
    return cells[i].strip() if i is not None and i < len(cells) else ""


def report_files(table: Table, path: Path, what: str, settings: Settings) -> ReportFiles:
    return ReportFiles(settings.output_dir / "permits" / what, path.stem, table.header, table.kind)


def plate_check(raw: str) -> tuple[str, Problem | None]:
    plate = normalise_plate(raw)
    reason = plate_problem(plate)
    if reason:
        return plate, Problem(FLEET_LABELS["plate"], echo(raw), reason, "bad_plate")
    return plate, None


def phone_check(raw: str, column: str) -> tuple[str, Problem | None]:
    phone = normalise_phone(raw)
    if phone and not is_mobile(phone):
        return phone, Problem(
            column, mask_phone(phone), "not a mainland mobile number (11 digits starting 13–19)",
            "bad_phone",
        )  # fmt: skip
    return phone, None


def read_fleet(
    session: Session,
    path: Path,
    *,
    default_type: str = "",
    settings: Settings | None = None,
) -> tuple[list[Vehicle], SheetReport]:
    """The vehicles of a fleet list, and the report (rows with problems are not vehicles; the
    report files are written when there are any, and earlier ones removed when there are
    none)."""
    settings = settings or get_settings()
    vehicles: list[Vehicle] = []
    report = SheetReport(str(path))
    with open_table(path, FLEET) as table:
        report.header_row = table.header_row
        files = report_files(table, path, "fleets", settings)
        rows: list[tuple[int, list[str], Vehicle, list[Problem]]] = []
        first_row: dict[str, int] = {}
        try:
            for n, cells in table.rows:
                if blank(cells):
                    continue
                report.read += 1
                problems: list[Problem] = []
                plate, bad = plate_check(cell(table, cells, "plate"))
                if bad:
                    problems.append(bad)
                elif plate in first_row:
                    problems.append(
                        Problem(FLEET_LABELS["plate"], plate,
                                f"this plate is already on row {first_row[plate]}",
                                "duplicate_plate")
                    )  # fmt: skip
                else:
                    first_row[plate] = n
                kind = cell(table, cells, "vehicle_type") or default_type.strip()
                if not kind:
                    problems.append(
                        Problem(FLEET_LABELS["vehicle_type"], "",
                                "the vehicle type is required (or give a default "
                                "type with --vehicle-type)", "missing_type")
                    )  # fmt: skip
                phone, bad = phone_check(
                    cell(table, cells, "driver_phone"), FLEET_LABELS["driver_phone"]
                )
                if bad:
                    problems.append(bad)
                v = Vehicle(plate, kind, cell(table, cells, "driver"), phone)
                rows.append((n, cells, v, problems))
            if report.read == 0:
                raise ValidationError(
                    f"{path.name} has a header row (row {table.header_row}) but no vehicle rows "
                    "below it."
                )
            taken = open_plates(session, [v.plate for _, _, v, ps in rows if not ps])
            for n, cells, v, problems in rows:
                if v.plate in taken and not problems:
                    problems.append(
                        Problem(FLEET_LABELS["plate"], v.plate,
                                "this truck already has an open application "
                                f"({taken[v.plate]})", "open_application")
                    )  # fmt: skip
                if problems:
                    report.rejected += 1
                    report.problems.extend((n, p) for p in problems)
                    files.reject(n, 0, cells, problems, [], str(n))
                else:
                    vehicles.append(v)
        except BaseException:
            files.discard()
            raise
        report.files = files.commit()
    if len(vehicles) + report.rejected != report.read:  # nothing lost, ever
        raise ConvoyOpsError(f"Reading {path.name} lost rows; nothing was filed.")
    return vehicles, report
