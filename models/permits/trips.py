"""Delivery by project: a delivery trip takes many passes to the site of one major project.

``plan_trip`` puts on a trip every issued pass of the project not yet delivered nor on another
open trip (or the passes listed); ``deliver_trip`` records who received them and when (all of
them, or the ones listed — the rest stay on the trip); the trip is ``done`` once every pass on
it is delivered. ``delivery_list`` is the printable list of a trip (one line a pass, with room
to sign), written as HTML, XLSX or CSV by ``write_delivery_list``; phones are masked.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from config import Settings, get_settings
from models.errors import NotFoundError, ValidationError
from models.intake.identity import mask_phone
from models.labels import labels, local_time
from models.permits.days import at_or_now, local_day
from models.permits.lifecycle import deliver_passes
from models.permits.tables import (
    Permit,
    PermitApplication,
    PermitTrip,
    PermitVehicle,
)

LIST_KEYS = ("seq", "number", "plate", "vehicle_type", "unit", "site", "valid_until",
             "delivered_to", "delivered_at")  # fmt: skip


def get_trip(session: Session, key: str | int) -> PermitTrip:
    text = str(key).strip().upper()
    stmt = select(PermitTrip).where(
        col(PermitTrip.id) == int(text) if text.isdigit() else col(PermitTrip.number) == text
    )
    trip = session.execute(stmt).scalars().first()
    if trip is None:
        raise NotFoundError(f"There is no delivery trip {text!r}.")
    return trip


def _project(session: Session, name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError("The project's name is required.")
    known = session.execute(
        select(func.count()).where(col(PermitApplication.project) == name)
    ).scalar_one()
    if not known:
        raise NotFoundError(f"No vehicle-pass application belongs to the project {name!r}.")
    return name


def plan_trip(
    session: Session,
    project: str,
    *,
    numbers: Sequence[str] | None = None,
    at: datetime | None = None,
    officer: str = "",
    note: str = "",
    settings: Settings | None = None,
) -> PermitTrip:
    """A delivery trip to ``project`` with its issued passes not yet delivered and not on
    another open trip (or the passes ``numbers`` of the project)."""
    at = at_or_now(at)
    project = _project(session, project)
    stmt = (
        select(Permit)
        .join(PermitApplication, col(PermitApplication.id) == col(Permit.application_id))
        .where(col(PermitApplication.project) == project)
        .order_by(col(Permit.id))
    )
    if numbers:
        wanted = [n.strip().upper() for n in numbers]
        found = {
            p.number: p
            for p in session.execute(stmt.where(col(Permit.number).in_(wanted))).scalars()
        }
        missing = [n for n in wanted if n not in found]
        if missing:
            raise NotFoundError(f"The pass {missing[0]} is not a pass of the project {project}.")
        passes = [found[n] for n in wanted]
    else:
        passes = list(session.execute(stmt.where(col(Permit.delivered_at).is_(None))).scalars())
    open_trips = {
        t.id
        for t in session.execute(
            select(PermitTrip).where(col(PermitTrip.status) != "done")
        ).scalars()
    }
    if numbers:
        for p in passes:
            if p.delivered_at is not None:
                raise ValidationError(f"The pass {p.number} is delivered already.")
            if p.trip_id in open_trips:
                raise ValidationError(f"The pass {p.number} is on another open trip already.")
    else:
        passes = [p for p in passes if p.trip_id not in open_trips or p.trip_id is None]
    if not passes:
        raise ValidationError(
            f"The project {project} has no issued pass waiting for delivery (every pass is "
            "delivered or on an open trip)."
        )
    trip = PermitTrip(project=project, planned_at=at, officer=officer.strip(), note=note.strip())
    session.add(trip)
    session.flush()
    trip.number = f"SD-{local_day(at, settings):%Y%m%d}-{trip.id:04d}"
    for p in passes:
        p.trip_id = trip.id
        session.add(p)
    session.flush()
    return trip


def trip_permits(session: Session, trip: PermitTrip) -> list[Permit]:
    return list(
        session.execute(
            select(Permit).where(col(Permit.trip_id) == trip.id).order_by(col(Permit.id))
        ).scalars()
    )


def deliver_trip(
    session: Session,
    key: str | int,
    *,
    to: str,
    numbers: Sequence[str] | None = None,
    at: datetime | None = None,
    actor: str = "",
) -> list[Permit]:
    """Record that ``to`` received the trip's passes (or the ones listed) at ``at``; returns
    the passes delivered now. The trip is done once all its passes are delivered."""
    trip = get_trip(session, key)
    on_trip = trip_permits(session, trip)
    if numbers:
        by_number = {p.number: p for p in on_trip}
        wanted = [n.strip().upper() for n in numbers]
        missing = [n for n in wanted if n not in by_number]
        if missing:
            raise NotFoundError(f"The pass {missing[0]} is not on trip {trip.number}.")
        chosen = [by_number[n] for n in wanted]
    else:
        chosen = [p for p in on_trip if p.delivered_at is None]
    at = at_or_now(at)
    if at < trip.planned_at:
        raise ValidationError(
            f"Trip {trip.number} was planned at {local_time(trip.planned_at)}; a delivery is "
            "recorded after that."
        )
    done = deliver_passes(session, chosen, to=to, at=at, actor=actor)
    if all(p.delivered_at is not None for p in on_trip):
        trip.status = "done"
    else:
        trip.status = "out"
    session.add(trip)
    session.flush()
    return done


def trip_record(
    session: Session, trip: PermitTrip, settings: Settings | None = None
) -> dict[str, Any]:
    rows = delivery_list(session, trip, settings)
    return {
        "number": trip.number,
        "project": trip.project,
        "planned_at": local_time(trip.planned_at, settings),
        "officer": trip.officer,
        "status": trip.status,
        "passes": len(rows),
        "delivered": sum(1 for r in rows if r["delivered_at"]),
        "list": rows,
    }


def delivery_list(
    session: Session, trip: PermitTrip, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """The trip's passes, one line each: number, plate, unit, site, contact (masked), valid
    until, received by and when."""
    rows = session.execute(
        select(Permit, PermitVehicle, PermitApplication)
        .join(PermitApplication, col(PermitApplication.id) == col(Permit.application_id))
        .outerjoin(PermitVehicle, col(PermitVehicle.id) == col(Permit.vehicle_id))
        .where(col(Permit.trip_id) == trip.id)
        .order_by(col(PermitApplication.enterprise), col(Permit.id))
    ).all()
    return [
        {
            "seq": i,
            "number": p.number,
            "plate": v.plate if v else "",
            "vehicle_type": v.vehicle_type if v else "",
            "unit": a.enterprise,
            "site": a.site_name,
            "contact": a.contact_name,
            "phone": mask_phone(a.contact_phone),
            "valid_until": str(local_day(p.valid_until, settings)),
            "delivered_to": p.delivered_to,
            "delivered_at": local_time(p.delivered_at, settings) if p.delivered_at else "",
        }
        for i, (p, v, a) in enumerate(rows, start=1)
    ]


def project_summary(session: Session) -> list[dict[str, Any]]:
    """Every major project: its applications, passes, passes delivered, waiting, trips."""
    out: dict[str, dict[str, Any]] = {}
    apps = session.execute(
        select(col(PermitApplication.project), func.count())
        .where(col(PermitApplication.project) != "")
        .group_by(col(PermitApplication.project))
    ).all()
    for name, n in apps:
        out[name] = {"project": name, "applications": n, "passes": 0, "delivered": 0,
                     "waiting": 0, "units": 0, "trips": 0}  # fmt: skip
    passes = session.execute(
        select(
            col(PermitApplication.project),
            col(Permit.delivered_at),
            col(PermitApplication.enterprise),
        )
        .join(PermitApplication, col(PermitApplication.id) == col(Permit.application_id))
        .where(col(PermitApplication.project) != "")
    ).all()
    units: dict[str, set[str]] = {}
    for name, delivered, unit in passes:
        out[name]["passes"] += 1
        out[name]["delivered" if delivered else "waiting"] += 1
        units.setdefault(name, set()).add(unit)
    for name, n in session.execute(
        select(col(PermitTrip.project), func.count()).group_by(col(PermitTrip.project))
    ).all():
        if name in out:
            out[name]["trips"] = n
    for name, u in units.items():
        out[name]["units"] = len(u)
    return sorted(out.values(), key=lambda r: r["project"])


def list_trips(session: Session, project: str | None = None) -> list[PermitTrip]:
    stmt = select(PermitTrip).order_by(col(PermitTrip.id))
    if project:
        stmt = stmt.where(col(PermitTrip.project) == project.strip())
    return list(session.execute(stmt).scalars())


def _cells(r: dict[str, Any]) -> list[Any]:
    return [r[k] for k in LIST_KEYS]


def write_delivery_list(
    record: dict[str, Any], path: Path, settings: Settings | None = None
) -> Path:
    """Write a trip's delivery list (``trip_record``) as .html (printable), .xlsx or .csv, in
    the display locale (``settings.locale``, zh-CN by default)."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".html", ".htm"):
        raise ValidationError(f"The delivery list {path.name} must end in .html, .xlsx or .csv.")
    text = labels("permits", (settings or get_settings()).locale)
    columns = [text[k] for k in LIST_KEYS]
    path.parent.mkdir(parents=True, exist_ok=True)
    title = text["list_title"].format(number=record["number"], project=record["project"])
    if suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8-sig") as fh:
            w = csv.writer(fh)
            w.writerow(columns)
            w.writerows(_cells(r) for r in record["list"])
    elif suffix == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = text["sheet"]
        ws.append([title])
        ws.append(columns)
        for r in record["list"]:
            ws.append(_cells(r))
        wb.save(path)
    else:
        e = html.escape
        head = "".join(f"<th>{e(c)}</th>" for c in columns)
        info = text["list_info"].format(
            at=record["planned_at"], officer=record["officer"] or "—",
            passes=record["passes"], delivered=record["delivered"],
        )  # fmt: skip
        lang = (settings or get_settings()).locale
        body = "\n".join(
            "<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in _cells(r)) + "</tr>"
            for r in record["list"]
        )
        path.write_text(
            f"""<!doctype html>
<html lang="{e(lang)}"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5cm; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #444; padding: 4px 6px; font-size: 11pt; }}
td:nth-last-child(-n+2) {{ min-width: 7em; }}
@media print {{ body {{ margin: 0; }} tr {{ page-break-inside: avoid; }} }}
</style></head><body>
<h1>{e(title)}</h1>
<p>{e(info)}</p>
<table class="convoy-delivery-list"><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table>
<p>{e(text["signature"])}</p>
</body></html>
""",
            encoding="utf-8",
        )
    return path
