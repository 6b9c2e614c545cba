"""Import of existing vehicle passes and applications from a CSV/XLSX sheet (Chinese headers).

One row is one vehicle: its plate, the applicant unit, the site and the validity, and, once
issued, its pass number (通行证编号; with 签收人 / 送达时间 when it was delivered). Rows with the
same application number (申请编号) make one application with many vehicles; a row without one
is an application of its own, numbered like its pass. The header is found below title rows
(``models.intake.sheets``); every bad row is reported with its row, column and reason in the
report files of a manifest import (``output_dir/permits/imports/NAME.errors.csv/.xlsx`` and
``NAME.for-fixing.csv/.xlsx``), and an application with a bad row is not imported at all (its
other rows say so), so that the fixed file imports it whole.

Idempotent: a pass already stored with the same plate, or an application already stored with
the same vehicles, counts as *already there*; a pass number stored for another plate is a
conflict (rejected, never overwritten). ``imported + already + rejected == read``, always.
The rows are written in bulk (``models.permits.bulk``) in the caller's transaction.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from config import Settings, get_settings
from models.db import in_chunks
from models.errors import ConvoyOpsError, GeocodingError, ValidationError
from models.geo.gazetteer import resolve_place
from models.intake.identity import echo
from models.intake.manifest import FIX_COLUMNS, Problem
from models.intake.sheets import Columns, blank, open_table
from models.permits.bulk import NewApplication, NewPass, insert_applications
from models.permits.days import day_end, day_start
from models.permits.fleet import cell, phone_check, plate_check, report_files
from models.permits.lifecycle import Vehicle, open_plates
from models.permits.tables import Permit, PermitApplication, PermitStatus, PermitVehicle

HEADERS: dict[str, tuple[str, ...]] = {
    "pass_number": ("pass_number", "pass number", "通行证编号", "通行证号", "通行证号码", "证号"),
    "application": ("application", "申请编号", "申请单号", "申请号"),
    "enterprise": ("enterprise", "unit", "申请单位", "单位名称", "企业名称", "施工单位", "单位"),
    "contact": ("contact", "联系人"),
    "contact_phone": ("contact_phone", "联系电话", "联系人电话"),
    "plate": ("plate", "车牌号", "车牌号码", "车牌", "号牌号码"),
    "vehicle_type": ("vehicle_type", "车辆类型", "车型", "车辆种类"),
    "driver": ("driver", "驾驶员", "驾驶人", "司机"),
    "driver_phone": ("driver_phone", "驾驶员电话", "司机电话", "驾驶员手机"),
    "site": ("site", "工地名称", "工地", "施工地点", "项目工地"),
    "project": ("project", "项目名称", "重大项目", "所属项目"),
    "address": ("address", "工地地址", "地址"),
    "place": ("place", "所在区域", "区县", "地点"),
    "lat": ("lat", "纬度"),
    "lon": ("lon", "经度"),
    "valid_from": ("valid_from", "有效期起", "有效期自", "起始日期", "开始日期"),
    "valid_until": ("valid_until", "有效期止", "有效期至", "截止日期", "到期日期"),
    "issued_at": ("issued_at", "发证日期", "发证时间", "核发日期", "核发时间"),
    "applied_at": ("applied_at", "申请日期", "申请时间"),
    "delivered_at": ("delivered_at", "送达时间", "送达日期", "签收时间"),
    "delivered_to": ("delivered_to", "签收人", "接收人"),
}
LABELS = {k: v[2] if len(v) > 2 else v[0] for k, v in HEADERS.items()}
REQUIRED = ("plate", "enterprise", "site", "valid_until")
PASSES = Columns("pass list", HEADERS, REQUIRED, LABELS, ignored=FIX_COLUMNS)

_DAY = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T](\d{1,2}):(\d{2})(?::\d{2})?)?$"
)


def parse_when(text: str, tz: Any) -> datetime | None:
    """'2020-03-31', '2020/3/31', '2020年3月31日', '2020-02-20 14:05' → a local time (midnight
    for a day); None when it is none of those."""
    m = _DAY.match(text.strip())
    if not m:
        return None
    y, mo, d, h, mi = m.groups()
    try:
        day = date(int(y), int(mo), int(d))
        clock = time(int(h or 0), int(mi or 0))
    except ValueError:
        return None
    return datetime.combine(day, clock, tzinfo=tz)


@dataclass
class PassImport:
    """What one import did. ``imported + already + rejected == read`` (rows)."""

    file: str
    header_row: int = 0
    read: int = 0
    imported: int = 0
    already: int = 0
    rejected: int = 0
    applications: int = 0  # added
    passes: int = 0  # added
    reasons: Counter[str] = field(default_factory=Counter)
    unknown_columns: list[str] = field(default_factory=list)
    files: dict[str, Path | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        def path(key: str) -> str | None:
            p = self.files.get(key)
            return str(p) if p else None

        return {
            "file": self.file,
            "header_row": self.header_row,
            "read": self.read,
            "imported": self.imported,
            "already": self.already,
            "rejected": self.rejected,
            "applications_added": self.applications,
            "passes_added": self.passes,
            "reasons": dict(self.reasons),
            "unknown_columns": self.unknown_columns,
            "errors_file": path("errors_xlsx"),
            "errors_csv": path("errors_csv"),
            "fixing_file": path("for_fixing"),
        }


@dataclass
class _Row:
    n: int
    cells: list[str]
    v: dict[str, str]
    vehicle: Vehicle
    problems: list[Problem]
    key: str = ""
    point: tuple[float, float] | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    issued_at: datetime | None = None
    applied_at: datetime | None = None
    delivered_at: datetime | None = None


def _p(field_: str, value: str, reason: str, code: str) -> Problem:
    return Problem(LABELS[field_], echo(value), reason, code)


def _check_row(
    n: int, cells: list[str], v: dict[str, str], settings: Settings, places: dict[str, Any]
) -> _Row:
    problems: list[Problem] = []
    plate, bad = plate_check(v["plate"])
    if bad:
        problems.append(bad)
    if not v["vehicle_type"]:
        v["vehicle_type"] = "未注明"
    driver_phone, bad = phone_check(v["driver_phone"], LABELS["driver_phone"])
    if bad:
        problems.append(bad)
    _, bad = phone_check(v["contact_phone"], LABELS["contact_phone"])
    if bad:
        problems.append(bad)
    for k in ("enterprise", "site"):
        if not v[k]:
            problems.append(_p(k, "", "this column is required", f"missing_{k}"))
    row = _Row(n, cells, v, Vehicle(plate, v["vehicle_type"], v["driver"], driver_phone), problems)
    row.key = (v["application"] or v["pass_number"]).upper()
    if not row.key:
        problems.append(
            _p("pass_number", "", "a row needs its pass number (通行证编号) or its application "
               "number (申请编号)", "missing_number")
        )  # fmt: skip
    tz = settings.tz
    for k in ("valid_from", "valid_until", "issued_at", "applied_at", "delivered_at"):
        if not v[k]:
            continue
        when = parse_when(v[k], tz)
        if when is None:
            problems.append(_p(k, v[k], "not a date like 2020-03-31 (or 2020-03-31 14:05)",
                               "bad_date"))  # fmt: skip
        setattr(row, k, when)
    if not v["valid_until"]:
        problems.append(_p("valid_until", "", "the last valid day is required", "missing_date"))
    if row.valid_from and row.valid_until and row.valid_until < row.valid_from:
        problems.append(
            _p("valid_until", v["valid_until"], f"ends before it starts ({v['valid_from']})",
               "bad_validity")
        )  # fmt: skip
    if bool(v["delivered_at"]) != bool(v["delivered_to"]):
        k = "delivered_to" if v["delivered_at"] else "delivered_at"
        problems.append(_p(k, "", "a delivery needs who received the pass and when",
                           "incomplete_delivery"))  # fmt: skip
    if v["delivered_at"] and row.key and not v["pass_number"]:
        problems.append(_p("pass_number", "", "a delivered pass needs its number",
                           "missing_number"))  # fmt: skip
    if v["lat"] or v["lon"]:
        try:
            lat, lon = float(v["lat"]), float(v["lon"])
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError
            row.point = (lat, lon)
        except ValueError:
            problems.append(_p("lat", f"{v['lat']},{v['lon']}", "not a latitude and longitude",
                               "bad_point"))  # fmt: skip
    else:
        query = v["place"] or v["address"] or v["site"]
        if query not in places:
            try:
                p = resolve_place(query, None, settings)
                places[query] = (p.lat, p.lon)
            except (GeocodingError, ValidationError) as exc:
                places[query] = str(exc)
        found = places[query]
        if isinstance(found, str):
            problems.append(
                _p("place", query, "the site's place is not known to the gazetteer; give 纬度/经度 "
                   "or a known place", "unknown_place")
            )  # fmt: skip
        else:
            row.point = found
    return row


def import_passes(
    session: Session,
    path: Path,
    *,
    actor: str = "",
    settings: Settings | None = None,
) -> PassImport:
    """Import a sheet of existing passes and applications (see the module doc)."""
    settings = settings or get_settings()
    report = PassImport(str(path))
    places: dict[str, Any] = {}
    with open_table(path, PASSES) as table:
        report.header_row = table.header_row
        report.unknown_columns = [name for _, name in table.extra]
        files = report_files(table, path, "imports", settings)
        try:
            rows: list[_Row] = []
            for n, cells in table.rows:
                if blank(cells):
                    continue
                report.read += 1
                v = {k: cell(table, cells, k) for k in HEADERS}
                rows.append(_check_row(n, cells, v, settings, places))
            if report.read == 0:
                raise ValidationError(
                    f"{path.name} has a header row (row {table.header_row}) but no pass rows "
                    "below it."
                )
            apps = _judge(session, rows, report, settings)
            for r in rows:
                if r.problems:
                    report.rejected += 1
                    report.reasons.update(p.code for p in r.problems)
                    files.reject(r.n, 0, r.cells, r.problems, [], str(r.n))
            insert_applications(session, apps, actor=actor, source="import", settings=settings)
            report.applications = len(apps)
            report.passes = sum(len(a.passes) for a in apps)
            report.imported = sum(len(a.vehicles) for a in apps)
            if report.imported + report.already + report.rejected != report.read:
                raise ConvoyOpsError(
                    f"The import of {path.name} lost rows: {report.read} read but "
                    f"{report.imported} imported, {report.already} already there and "
                    f"{report.rejected} rejected. Nothing was saved."
                )
        except BaseException:
            files.discard()
            raise
        report.files = files.commit()
    return report


def _judge(
    session: Session, rows: list[_Row], report: PassImport, settings: Settings
) -> list[NewApplication]:
    """Group the rows into applications, check them against the database; returns the new
    applications (rows already there are counted, bad ones carry their problems)."""
    groups: dict[str, list[_Row]] = {}
    for r in rows:
        if r.key:
            groups.setdefault(r.key, []).append(r)
    keys = list(groups)
    stored_apps: dict[str, int] = {}
    for chunk in in_chunks(keys):
        stored_apps.update(
            session.execute(
                select(col(PermitApplication.number), col(PermitApplication.id)).where(
                    col(PermitApplication.number).in_(chunk)
                )
            ).all()
        )
    numbers = [r.v["pass_number"].upper() for r in rows if r.v["pass_number"]]
    stored_passes: dict[str, str] = {}
    for chunk in in_chunks(numbers):
        stored_passes.update(
            session.execute(
                select(col(Permit.number), col(PermitVehicle.plate))
                .outerjoin(PermitVehicle, col(PermitVehicle.id) == col(Permit.vehicle_id))
                .where(col(Permit.number).in_(chunk))
            ).all()
        )
    stored_vehicles: dict[int, set[str]] = {}
    ids = list(stored_apps.values())
    for id_chunk in in_chunks(ids):
        for app_id, plate in session.execute(
            select(col(PermitVehicle.application_id), col(PermitVehicle.plate)).where(
                col(PermitVehicle.application_id).in_(id_chunk)
            )
        ):
            stored_vehicles.setdefault(app_id, set()).add(plate)
    taken = open_plates(session, [r.vehicle.plate for r in rows if not r.problems])
    apps: list[NewApplication] = []
    for key, group in groups.items():
        first = group[0]
        seen: dict[str, int] = {}
        issued = [bool(r.v["pass_number"]) for r in group]
        for r in group:
            plate, number = r.vehicle.plate, r.v["pass_number"].upper()
            if plate in seen and not r.problems:
                r.problems.append(
                    _p("plate", plate, f"this plate is already on row {seen[plate]} of "
                       f"application {key}", "duplicate_plate")
                )  # fmt: skip
            seen.setdefault(plate, r.n)
            if any(issued) and not all(issued):
                r.problems.append(
                    _p("pass_number", number, f"the rows of application {key} must all carry "
                       "their pass numbers or none", "mixed_application")
                )  # fmt: skip
            for k in ("enterprise", "site"):
                if r.v[k] != first.v[k] and not r.problems:
                    r.problems.append(
                        _p(k, r.v[k], f"application {key} is for {first.v[k]} (row {first.n})",
                           "mixed_application")
                    )  # fmt: skip
            if number and stored_passes.get(number, plate) != plate:
                r.problems.append(
                    _p("pass_number", number, f"this pass number is stored already for "
                       f"{stored_passes[number] or 'another vehicle'}", "pass_conflict")
                )  # fmt: skip
            elif key in stored_apps:
                if plate in stored_vehicles.get(stored_apps[key], set()) and (
                    not number or stored_passes.get(number) == plate
                ):
                    continue  # already there
                r.problems.append(
                    _p("application", key, "this application is stored already with other "
                       "vehicles; it is not changed by an import", "application_exists")
                )  # fmt: skip
            elif number in stored_passes:
                r.problems.append(
                    _p("pass_number", number, "this pass number is stored already under "
                       "another application", "pass_conflict")
                )  # fmt: skip
            elif plate in taken and not r.problems:
                r.problems.append(
                    _p("plate", plate, f"this truck already has an open application "
                       f"({taken[plate]})", "open_application")
                )  # fmt: skip
        bad = [r for r in group if r.problems]
        if key in stored_apps and not bad:
            report.already += len(group)
            continue
        if bad:
            for r in group:
                if not r.problems:
                    r.problems.append(
                        _p("application", key, f"another row of application {key} has problems "
                           f"(row {bad[0].n}); the application is imported whole or not at all",
                           "application_incomplete")
                    )  # fmt: skip
            continue
        apps.append(_application(key, group, settings))
    return apps


def _application(key: str, group: list[_Row], settings: Settings) -> NewApplication:
    first = group[0]
    assert first.valid_until is not None and first.point is not None
    start = first.valid_from or first.issued_at or first.applied_at or first.valid_until
    applied = first.applied_at or first.issued_at or day_start(start.date(), settings)
    passes = [
        NewPass(
            seq,
            r.v["pass_number"].upper(),
            r.issued_at or applied,
            day_start((r.valid_from or start).date(), settings),
            day_end((r.valid_until or first.valid_until).date(), settings),
            r.delivered_at,
            r.v["delivered_to"],
        )
        for seq, r in enumerate(group, start=1)
        if r.v["pass_number"]
    ]
    if passes and all(p.delivered_at for p in passes):
        status = PermitStatus.DELIVERED
    elif passes:
        status = PermitStatus.ISSUED
    else:
        status = PermitStatus.APPLIED
    last = max(
        [applied, *(p.issued_at for p in passes), *(p.delivered_at or applied for p in passes)]
    )
    return NewApplication(
        number=key,
        enterprise=first.v["enterprise"],
        site_name=first.v["site"],
        site_lat=first.point[0],
        site_lon=first.point[1],
        requested_from=start.date(),
        requested_until=first.valid_until.date(),
        applied_at=applied,
        status=status,
        vehicles=[r.vehicle for r in group],
        passes=passes,
        events=[
            (
                "imported",
                last,
                status.value,
                "imported from a pass list",
                {"rows": [r.n for r in group], "passes": len(passes)},
            )
        ],
        contact_name=first.v["contact"],
        contact_phone=phone_check(first.v["contact_phone"], "")[0],
        project=first.v["project"],
        site_address=first.v["address"],
    )
