"""Writing many applications, vehicles, passes and their history at once (imports, batches).

One Core INSERT per table, executed with the DBAPI's executemany (``models.convoy.store``'s
bulk writer), in the caller's transaction: an import of thousands of passes costs a few
statements, not thousands of ORM flushes. The acting person's right (``permit.write``) is
checked before anything is written and one audit record says what was added
(``models.access.audit``).

:func:`issue_batch` is the officer's steps for many units at once — file, survey, route and
issue — for lists approved together (the model case's 7,092 passes to 1,522 units).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from config import Settings
from models.access.audit import guard, record
from models.convoy.store import _BulkInsert
from models.db import in_chunks, utcnow
from models.errors import ValidationError
from models.geo.gazetteer import resolve_place
from models.permits.days import at_or_now, day_end, day_start, local_day
from models.permits.lifecycle import (
    Vehicle,
    application_number,
    check_phone,
    open_plates,
    pass_number,
)
from models.permits.plates import validate_plate
from models.permits.tables import (
    Permit,
    PermitApplication,
    PermitEvent,
    PermitStatus,
    PermitVehicle,
)

_A = PermitApplication.__table__  # type: ignore[attr-defined]
_V = PermitVehicle.__table__  # type: ignore[attr-defined]
_P = Permit.__table__  # type: ignore[attr-defined]
_E = PermitEvent.__table__  # type: ignore[attr-defined]

_APP_COLUMNS = (
    "number", "campaign_id", "enterprise", "contact_name", "contact_phone", "site_name",
    "project", "site_address", "site_lat", "site_lon", "waypoints", "requested_from",
    "requested_until", "status", "reason", "applied_at", "status_changed_at",
)  # fmt: skip
_VEHICLE_COLUMNS = (
    "application_id", "seq", "plate", "vehicle_type", "driver", "driver_phone",
)  # fmt: skip
_PASS_COLUMNS = (
    "application_id", "vehicle_id", "trip_id", "number", "issued_at", "valid_from",
    "valid_until", "status", "delivered_at", "delivered_to",
)  # fmt: skip
_EVENT_COLUMNS = (
    "application_id", "seq", "at", "recorded_at", "actor", "kind", "from_status",
    "to_status", "note", "data",
)  # fmt: skip


@dataclass
class NewPass:
    """The pass of one vehicle (by its place in the application)."""

    seq: int
    number: str  # '' → numbered like an issued pass (``pass_number``)
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    delivered_at: datetime | None = None
    delivered_to: str = ""


@dataclass
class NewApplication:
    """An application as it will be stored: its vehicles (checked), passes and history."""

    number: str  # '' → ``TX-YYYYMMDD-NNNN`` from the id
    enterprise: str
    site_name: str
    site_lat: float
    site_lon: float
    requested_from: date
    requested_until: date
    applied_at: datetime
    status: PermitStatus
    vehicles: list[Vehicle]
    passes: list[NewPass] = field(default_factory=list)
    # (kind, at, to status, note, data), oldest first; the first is "applied" or "imported".
    events: list[tuple[str, datetime, str, str, dict[str, Any]]] = field(default_factory=list)
    contact_name: str = ""
    contact_phone: str = ""
    project: str = ""
    site_address: str = ""
    waypoints: list[dict[str, Any]] = field(default_factory=list)
    campaign_id: int | None = None


def insert_applications(
    session: Session,
    apps: Sequence[NewApplication],
    *,
    actor: str = "",
    source: str = "batch",
    settings: Settings | None = None,
) -> list[str]:
    """Store ``apps`` (already checked) in bulk; returns their numbers, in order."""
    if not apps:
        return []
    guard(session, "permit.write")
    session.flush()
    conn = session.connection()
    token = f"~{uuid.uuid4().hex[:12]}-"
    temp = [a.number or f"{token}{i}" for i, a in enumerate(apps)]
    _BulkInsert(conn, _A, _APP_COLUMNS).run(
        [
            (
                temp[i],
                a.campaign_id,
                a.enterprise,
                a.contact_name,
                a.contact_phone,
                a.site_name,
                a.project,
                a.site_address,
                a.site_lat,
                a.site_lon,
                a.waypoints,
                a.requested_from,
                a.requested_until,
                a.status.value,
                "",
                a.applied_at,
                a.events[-1][1] if a.events else a.applied_at,
            )
            for i, a in enumerate(apps)
        ]
    )
    ids = _ids_by_number(conn, temp)
    app_ids = [ids[n] for n in temp]
    renumber = [
        {"b_id": app_ids[i], "b_number": application_number(a.applied_at, app_ids[i], settings)}
        for i, a in enumerate(apps)
        if not a.number
    ]
    if renumber:  # one compiled UPDATE through the DBAPI's executemany
        stmt = update(_A).where(_A.c.id == bindparam("b_id")).values(number=bindparam("b_number"))
        compiled = stmt.compile(dialect=conn.dialect)
        if compiled.positional:
            order = list(compiled.positiontup or [])
            conn.exec_driver_sql(str(compiled), [tuple(r[k] for k in order) for r in renumber])
        else:
            conn.exec_driver_sql(str(compiled), renumber)
    numbers = [a.number or application_number(a.applied_at, app_ids[i], settings)
               for i, a in enumerate(apps)]  # fmt: skip
    _BulkInsert(conn, _V, _VEHICLE_COLUMNS).run(
        [
            (app_ids[i], seq, v.plate, v.vehicle_type, v.driver, v.driver_phone)
            for i, a in enumerate(apps)
            for seq, v in enumerate(a.vehicles, start=1)
        ]
    )
    low = min(app_ids)
    mine = set(app_ids)
    vehicle_ids = {
        (app_id, seq): vid
        for vid, app_id, seq in conn.execute(
            select(_V.c.id, _V.c.application_id, _V.c.seq).where(_V.c.application_id >= low)
        )
        if app_id in mine
    }
    _BulkInsert(conn, _P, _PASS_COLUMNS).run(
        [
            (
                app_ids[i],
                vehicle_ids[(app_ids[i], p.seq)],
                None,
                p.number or pass_number(numbers[i], p.seq, len(a.vehicles)),
                p.issued_at,
                p.valid_from,
                p.valid_until,
                PermitStatus.DELIVERED.value if p.delivered_at else PermitStatus.ISSUED.value,
                p.delivered_at,
                p.delivered_to,
            )
            for i, a in enumerate(apps)
            for p in a.passes
        ]
    )
    now = utcnow()
    rows = []
    for i, a in enumerate(apps):
        before = ""
        for seq, (kind, at, to, note, data) in enumerate(a.events, start=1):
            rows.append((app_ids[i], seq, at, now, actor, kind, before, to, note, data))
            before = to
    _BulkInsert(conn, _E, _EVENT_COLUMNS).run(rows)
    record(
        session,
        f"permit.{source}",
        f"{len(apps)} application(s)",
        after={
            "applications": len(apps),
            "vehicles": sum(len(a.vehicles) for a in apps),
            "passes": sum(len(a.passes) for a in apps),
            "first": numbers[0],
            "last": numbers[-1],
        },
    )
    return numbers


def _ids_by_number(conn: Any, numbers: list[str]) -> dict[str, int]:
    """The ids of the applications just written, by their (temporary) numbers."""
    out: dict[str, int] = {}
    for chunk in in_chunks(numbers):
        out.update(conn.execute(select(_A.c.number, _A.c.id).where(_A.c.number.in_(chunk))).all())
    return out


@dataclass(frozen=True)
class UnitRequest:
    """One unit's application in a batch: who, where, which vehicles, until when."""

    enterprise: str
    site_name: str
    vehicles: Sequence[Vehicle]
    valid_until: date
    place: str = ""
    lat: float | None = None
    lon: float | None = None
    project: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    site_address: str = ""


def issue_batch(
    session: Session,
    units: Sequence[UnitRequest],
    *,
    route: Sequence[str],
    applied_at: datetime,
    surveyed_at: datetime,
    routed_at: datetime,
    issued_at: datetime,
    actor: str = "",
    campaign_id: int | None = None,
    settings: Settings | None = None,
) -> list[str]:
    """File, survey, route and issue many units' applications at once (one pass per
    vehicle), checked like the single steps (plates, phones, dates, plates on open
    applications, places through the gazetteer); returns the application numbers."""
    applied_at = at_or_now(applied_at)
    if not applied_at <= surveyed_at <= routed_at <= issued_at:
        raise ValidationError(
            "The steps of a batch must be in order: filed, surveyed, routed, issued."
        )
    if not route:
        raise ValidationError("A route needs at least one waypoint (where the truck starts).")
    places: dict[str, tuple[str, float, float]] = {}

    def place(name: str) -> tuple[str, float, float]:
        if name not in places:
            p = resolve_place(name, None, settings)
            places[name] = (p.name, p.lat, p.lon)
        return places[name]

    waypoints = [dict(zip(("name", "lat", "lon"), place(n), strict=True)) for n in route]
    names = [w["name"] for w in waypoints]
    today = local_day(applied_at, settings)
    start = day_start(today, settings)
    seen: set[str] = set()
    apps: list[NewApplication] = []
    for u in units:
        if not u.enterprise.strip() or not u.site_name.strip():
            raise ValidationError("Every unit of a batch needs its enterprise and its site.")
        fleet = _checked(u.vehicles, seen)
        if not fleet:
            raise ValidationError(f"{u.enterprise}: an application needs at least one vehicle.")
        if day_end(u.valid_until, settings) < issued_at:
            raise ValidationError(
                f"{u.enterprise}: the validity would have ended on {u.valid_until}, before the "
                "passes are issued; give a later end date."
            )
        if u.lat is not None and u.lon is not None:
            lat, lon = u.lat, u.lon
        else:
            _, lat, lon = place(u.place or u.site_address)
        end = day_end(u.valid_until, settings)
        apps.append(
            NewApplication(
                number="", enterprise=u.enterprise.strip(), site_name=u.site_name.strip(),
                site_lat=lat, site_lon=lon, requested_from=today,
                requested_until=u.valid_until, applied_at=applied_at,
                status=PermitStatus.ISSUED, vehicles=fleet,
                passes=[NewPass(seq, "", issued_at, start, end)
                        for seq in range(1, len(fleet) + 1)],
                events=[
                    ("applied", applied_at, "applied", "", {"vehicles": len(fleet)}),
                    ("surveyed", surveyed_at, "surveyed", "", {}),
                    ("route_planned", routed_at, "route_planned", "", {"waypoints": names}),
                    ("issued", issued_at, "issued", "",
                     {"valid_from": str(today), "valid_until": str(u.valid_until),
                      "passes": len(fleet)}),
                ],
                contact_name=u.contact_name, contact_phone=check_phone(u.contact_phone),
                project=u.project.strip(), site_address=u.site_address.strip(),
                waypoints=waypoints, campaign_id=campaign_id,
            )
        )  # fmt: skip
    taken = open_plates(session, sorted(seen))
    if taken:
        plate, number = next(iter(taken.items()))
        raise ValidationError(
            f"The truck {plate} already has an open application ({number}); finish or reject "
            "it first."
        )
    return insert_applications(session, apps, actor=actor, source="batch", settings=settings)


def _checked(vehicles: Sequence[Vehicle], seen: set[str]) -> list[Vehicle]:
    out = []
    for v in vehicles:
        plate = validate_plate(v.plate)
        if plate in seen:
            raise ValidationError(f"The plate {plate} is given twice; each vehicle once.")
        seen.add(plate)
        kind = (v.vehicle_type or "").strip()
        if not kind:
            raise ValidationError(f"The vehicle type of {plate} is required.")
        out.append(Vehicle(plate, kind, v.driver.strip(), check_phone(v.driver_phone)))
    return out
