"""The vehicle-pass lifecycle: application → site survey → route plan → issue → delivery.

Plain domain logic, no Prefect. Every change is one call in the caller's transaction that
checks the lifecycle, updates the application (and its permit) and appends a
:class:`~models.permits.tables.PermitEvent`; a step that the lifecycle does not allow raises
:class:`~models.errors.TransitionError`, bad input :class:`~models.errors.ValidationError`.

* Lifecycle: ``applied → surveyed → route_planned → issued → delivered``; ``rejected`` (with a
  reason) from any step before issuance. The route may be planned again until the pass is
  issued. ``expired`` is never stored: a pass is expired once its validity has ended
  (:func:`effective_status`).
* One number from application to delivery: an application gets its number when it is filed
  (``TX-YYYYMMDD-NNNN``, the local date of filing and the application's id) and the pass
  issued for it carries the same number.
* Validity is by calendar days in the display time zone (``models.permits.days``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from config import Settings
from models.convoy.store import get_campaign
from models.db import in_chunks
from models.errors import TransitionError, ValidationError
from models.geo.datums import Datum, to_wgs84
from models.geo.gazetteer import resolve_place
from models.intake.identity import is_mobile, mask_phone, normalise_phone
from models.labels import local_time
from models.permits.days import at_or_now, day_end, day_start, local_day
from models.permits.plates import validate_plate
from models.permits.queries import get_application, get_permits, get_vehicles, last_event
from models.permits.tables import (
    Permit,
    PermitApplication,
    PermitEvent,
    PermitStatus,
    PermitVehicle,
)

_CHAIN: tuple[PermitStatus, ...] = (
    PermitStatus.APPLIED,
    PermitStatus.SURVEYED,
    PermitStatus.ROUTE_PLANNED,
    PermitStatus.ISSUED,
    PermitStatus.DELIVERED,
)
OPEN_STATUSES = frozenset(_CHAIN[:-1])  # not yet delivered, not rejected
_REJECTABLE = frozenset(_CHAIN[:3])  # a pass once issued is not rejected

# The officer's steps, in order, and the status each one reaches.
STEPS: dict[str, PermitStatus] = {
    "survey": PermitStatus.SURVEYED,
    "route": PermitStatus.ROUTE_PLANNED,
    "issue": PermitStatus.ISSUED,
    "deliver": PermitStatus.DELIVERED,
}


def _text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationError(f"The {what} is required.")
    return text


def record_event(
    session: Session,
    app: PermitApplication,
    kind: str,
    at: datetime,
    *,
    to: PermitStatus | None = None,
    actor: str = "",
    note: str = "",
    data: dict[str, Any] | None = None,
) -> PermitEvent:
    """Append an event (and move the application to ``to``). Times never go backwards."""
    last = last_event(session, app)
    if last is not None and at < last.at:
        raise ValidationError(
            f"Application {app.number}: the time {local_time(at)} is before its last recorded "
            f"step ({last.kind} at {local_time(last.at)}); give a later time."
        )
    before = app.status
    if to is not None:
        app.status = to.value
        app.status_changed_at = at
        session.add(app)
    event = PermitEvent(
        application_id=app.id or 0,
        seq=(last.seq + 1) if last else 1,
        at=at,
        actor=actor,
        kind=kind,
        from_status=before if kind != "applied" else "",
        to_status=app.status,
        note=note,
        data=data or {},
    )
    session.add(event)
    session.flush()
    return event


def _require(app: PermitApplication, allowed: frozenset[PermitStatus], doing: str) -> None:
    if PermitStatus(app.status) not in allowed:
        needed = " or ".join(sorted(s.value for s in allowed))
        raise TransitionError(
            f"Application {app.number} is {app.status}; it can only be {doing} when it is {needed}."
        )


def _point(lat: float | None, lon: float | None, crs: str, what: str) -> tuple[float, float] | None:
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        raise ValidationError(f"The {what} needs both a latitude and a longitude.")
    if crs not in ("wgs84", "gcj02", "bd09"):
        raise ValidationError(f"The coordinate system {crs!r} is not wgs84, gcj02 or bd09.")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationError(f"The {what} ({lat}, {lon}) is not a latitude and longitude.")
    datum: Datum = crs  # type: ignore[assignment]
    return to_wgs84(lat, lon, datum)


@dataclass(frozen=True)
class Vehicle:
    """One vehicle of an application: its plate and type, and optionally the driver."""

    plate: str
    vehicle_type: str = ""
    driver: str = ""
    driver_phone: str = ""


def check_phone(value: object, what: str = "contact phone") -> str:
    """A mainland mobile (normalised), or '' when none is given."""
    if not value:
        return ""
    phone = normalise_phone(value)
    if phone and not is_mobile(phone):
        raise ValidationError(
            f"The {what} {mask_phone(phone)} is not a mainland mobile number "
            "(11 digits starting 13–19)."
        )
    return phone


def open_plates(session: Session, plates: Sequence[str]) -> dict[str, str]:
    """Plates among ``plates`` already on an open application → that application's number."""
    found: dict[str, str] = {}
    wanted = list(dict.fromkeys(plates))
    for chunk in in_chunks(wanted):
        rows = session.execute(
            select(col(PermitVehicle.plate), col(PermitApplication.number))
            .join(PermitApplication, col(PermitApplication.id) == col(PermitVehicle.application_id))
            .where(
                col(PermitVehicle.plate).in_(chunk),
                col(PermitApplication.status).in_([s.value for s in OPEN_STATUSES]),
            )
        ).all()
        found.update({plate: number for plate, number in rows})
    return found


def _vehicles(
    session: Session, plate: str | None, vehicle_type: str, vehicles: Sequence[Vehicle]
) -> list[Vehicle]:
    given = list(vehicles)
    if plate:
        given.insert(0, Vehicle(plate, vehicle_type))
    if not given:
        raise ValidationError("An application needs at least one vehicle (a plate number).")
    out: list[Vehicle] = []
    seen: set[str] = set()
    for v in given:
        p = validate_plate(v.plate)
        if p in seen:
            raise ValidationError(f"The plate {p} is given twice; each vehicle once.")
        seen.add(p)
        kind = (v.vehicle_type or vehicle_type or "").strip()
        if not kind:
            raise ValidationError(f"The vehicle type of {p} is required.")
        phone = check_phone(v.driver_phone, f"driver's phone of {p}")
        out.append(Vehicle(p, kind, (v.driver or "").strip(), phone))
    taken = open_plates(session, [v.plate for v in out])
    if taken:
        p, number = next(iter(taken.items()))
        more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
        raise ValidationError(
            f"The truck {p} already has an open application ({number}){more}; "
            "finish or reject it first."
        )
    return out


def apply_for_permit(
    session: Session,
    *,
    enterprise: str,
    site_name: str,
    valid_until: date,
    plate: str | None = None,
    vehicle_type: str = "",
    vehicles: Sequence[Vehicle] = (),
    project: str = "",
    valid_from: date | None = None,
    contact_name: str = "",
    contact_phone: str = "",
    site_address: str = "",
    place: str | None = None,
    hint: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    crs: str = "wgs84",
    campaign: str | None = None,
    at: datetime | None = None,
    actor: str = "",
    settings: Settings | None = None,
) -> PermitApplication:
    """File an application for one vehicle (``plate``, ``vehicle_type``) or a fleet
    (``vehicles``; a vehicle without a type takes ``vehicle_type``). The site point is
    ``lat``/``lon`` (in ``crs``, stored as WGS-84) or a place resolved through the gazetteer
    (``place``, else the address)."""
    at = at_or_now(at)
    enterprise = _text(enterprise, "applicant enterprise")
    site_name = _text(site_name, "site name")
    fleet = _vehicles(session, plate, vehicle_type, vehicles)
    phone = check_phone(contact_phone)
    start = valid_from or local_day(at, settings)
    if valid_until < start:
        raise ValidationError(
            f"The pass would end on {valid_until} before it starts on {start}; give a later "
            "end date."
        )
    if valid_until < local_day(at, settings):
        raise ValidationError(f"The requested end date {valid_until} has already passed.")
    point = _point(lat, lon, crs, "site point")
    if point is None:
        query = (place or site_address or "").strip()
        if not query:
            raise ValidationError(
                "Give the site's place (a name the gazetteer knows) or its latitude and longitude."
            )
        point = resolve_place(query, hint, settings).point
    campaign_id = get_campaign(session, campaign).id if campaign else None
    app = PermitApplication(
        enterprise=enterprise,
        contact_name=(contact_name or "").strip(),
        contact_phone=phone,
        site_name=site_name,
        project=(project or "").strip(),
        site_address=(site_address or "").strip(),
        site_lat=point[0],
        site_lon=point[1],
        requested_from=start,
        requested_until=valid_until,
        campaign_id=campaign_id,
        applied_at=at,
        status_changed_at=at,
    )
    session.add(app)
    session.flush()
    app.number = _free_number(session, application_number(at, app.id or 0, settings))
    for seq, v in enumerate(fleet, start=1):
        session.add(
            PermitVehicle(
                application_id=app.id or 0,
                seq=seq,
                plate=v.plate,
                vehicle_type=v.vehicle_type,
                driver=v.driver,
                driver_phone=v.driver_phone,
            )
        )
    record_event(
        session, app, "applied", at, to=PermitStatus.APPLIED, actor=actor,
        data={"vehicles": len(fleet)},
    )  # fmt: skip
    return app


def application_number(at: datetime, id_: int, settings: Settings | None = None) -> str:
    """``TX-YYYYMMDD-NNNN``: the local day of filing and the application's id."""
    return f"TX-{local_day(at, settings):%Y%m%d}-{id_:04d}"


def _free_number(session: Session, number: str) -> str:
    """``number``, or ``number-A``, ``-B`` … when an imported application or pass holds it (or
    a pass number the application's passes would get) already."""
    taken = [
        *session.execute(
            select(col(PermitApplication.number)).where(
                col(PermitApplication.number).startswith(number)
            )
        ).scalars(),
        *session.execute(
            select(col(Permit.number)).where(col(Permit.number).startswith(number))
        ).scalars(),
    ]
    for suffix in ["", *(f"-{c}" for c in "ABCDEFGHJKLMNPQRSTUVWXYZ")]:
        candidate = number + suffix
        if not any(t == candidate or t.startswith(f"{candidate}-0") for t in taken):
            return candidate
    raise ValidationError(f"The application number {number} and its variants are all taken.")


def pass_number(app_number: str, seq: int, fleet_size: int) -> str:
    """The number of the pass of vehicle ``seq``: the application's number for a single
    vehicle, ``TX-…-NNNN-001`` (the vehicle's place) for a fleet."""
    return app_number if fleet_size == 1 else f"{app_number}-{seq:03d}"


def survey_site(
    session: Session,
    key: str | int,
    *,
    ok: bool,
    note: str = "",
    at: datetime | None = None,
    actor: str = "",
) -> PermitApplication:
    """Record the site survey: passed (``surveyed``) or failed (``rejected``, ``note`` is the
    reason and is required)."""
    app = get_application(session, key)
    at = at_or_now(at)
    if not ok:
        if not note.strip():
            raise ValidationError("A failed survey needs the reason (--note).")
        return reject_application(session, app.number, note, at=at, actor=actor)
    _require(app, frozenset({PermitStatus.APPLIED}), "surveyed")
    record_event(session, app, "surveyed", at, to=PermitStatus.SURVEYED, actor=actor, note=note)
    return app


@dataclass(frozen=True)
class Via:
    """A route waypoint as given: a place name, or a point (``lat``, ``lon`` in ``crs``)."""

    name: str = ""
    lat: float | None = None
    lon: float | None = None
    crs: str = "wgs84"


def plan_route(
    session: Session,
    key: str | int,
    vias: Sequence[Via | str],
    *,
    hint: str | None = None,
    note: str = "",
    at: datetime | None = None,
    actor: str = "",
    settings: Settings | None = None,
) -> PermitApplication:
    """Plan (or, until issuance, re-plan) the route: from the first waypoint through the others
    to the site. Names resolve through the gazetteer; points are converted to WGS-84."""
    app = get_application(session, key)
    at = at_or_now(at)
    _require(app, frozenset({PermitStatus.SURVEYED, PermitStatus.ROUTE_PLANNED}), "routed")
    if not vias:
        raise ValidationError("A route needs at least one waypoint (where the truck starts).")
    points: list[dict[str, Any]] = []
    for via in vias:
        v = Via(name=via) if isinstance(via, str) else via
        point = _point(v.lat, v.lon, v.crs, f"waypoint {v.name or len(points) + 1}")
        if point is None:
            place = resolve_place(_text(v.name, "waypoint name"), hint, settings)
            points.append({"name": place.name, "lat": place.lat, "lon": place.lon})
        else:
            points.append(
                {
                    "name": v.name or f"{point[0]:.5f},{point[1]:.5f}",
                    "lat": point[0],
                    "lon": point[1],
                }
            )
    app.waypoints = points
    record_event(
        session,
        app,
        "route_planned",
        at,
        to=PermitStatus.ROUTE_PLANNED,
        actor=actor,
        note=note,
        data={"waypoints": [p["name"] for p in points]},
    )
    return app


def issue_permit(
    session: Session,
    key: str | int,
    *,
    valid_until: date | None = None,
    at: datetime | None = None,
    actor: str = "",
    settings: Settings | None = None,
) -> list[Permit]:
    """Issue the passes of a routed application, one numbered pass per vehicle
    (:func:`pass_number`), valid over the requested days (the end may be changed with
    ``valid_until``)."""
    app = get_application(session, key)
    at = at_or_now(at)
    _require(app, frozenset({PermitStatus.ROUTE_PLANNED}), "issued")
    last_day = valid_until or app.requested_until
    if last_day < app.requested_from:
        raise ValidationError(
            f"The pass would end on {last_day} before it starts on {app.requested_from}."
        )
    if day_end(last_day, settings) < at:
        raise ValidationError(
            f"Application {app.number}: the validity would have ended on {last_day}, before "
            "the pass is issued; give a later end date."
        )
    fleet = get_vehicles(session, app)
    permits = [
        Permit(
            application_id=app.id or 0,
            vehicle_id=v.id,
            number=pass_number(app.number, v.seq, len(fleet)),
            issued_at=at,
            valid_from=day_start(app.requested_from, settings),
            valid_until=day_end(last_day, settings),
        )
        for v in fleet
    ]
    session.add_all(permits)
    record_event(
        session,
        app,
        "issued",
        at,
        to=PermitStatus.ISSUED,
        actor=actor,
        data={
            "valid_from": str(app.requested_from),
            "valid_until": str(last_day),
            "passes": len(permits),
        },
    )
    return permits


def deliver_passes(
    session: Session,
    permits: Sequence[Permit],
    *,
    to: str,
    at: datetime | None = None,
    actor: str = "",
) -> list[Permit]:
    """Record that ``to`` received these passes at ``at`` (an application is ``delivered``
    once all its passes are). Passes delivered already are left as they were."""
    at = at_or_now(at)
    receiver = _text(to, "name of whoever received the pass")
    by_app: dict[int, list[Permit]] = {}
    for p in permits:
        by_app.setdefault(p.application_id, []).append(p)
    done: list[Permit] = []
    for app_id, mine in by_app.items():
        app = session.get(PermitApplication, app_id)
        assert app is not None
        _require(app, frozenset({PermitStatus.ISSUED}), "delivered")
        fresh = [p for p in mine if p.delivered_at is None]
        if not fresh:
            continue
        for p in fresh:
            p.status = PermitStatus.DELIVERED.value
            p.delivered_at = at
            p.delivered_to = receiver
            session.add(p)
        session.flush()
        left = [p for p in get_permits(session, app) if p.delivered_at is None]
        record_event(
            session, app, "delivered", at,
            to=PermitStatus.ISSUED if left else PermitStatus.DELIVERED,
            actor=actor, data={"to": receiver, "passes": [p.number for p in fresh]},
        )  # fmt: skip
        done.extend(fresh)
    return done


def deliver_permit(
    session: Session,
    key: str | int,
    *,
    to: str,
    at: datetime | None = None,
    actor: str = "",
) -> list[Permit]:
    """Record the door-to-door delivery to ``to`` of every pass of an issued application, or
    of the one pass ``key`` names (``TX-…-NNNN-007``)."""
    app = get_application(session, key)
    _require(app, frozenset({PermitStatus.ISSUED}), "delivered")
    _text(to, "name of whoever received the pass")
    permits = get_permits(session, app)
    one = [p for p in permits if p.number == str(key).strip().upper() != app.number]
    return deliver_passes(session, one or permits, to=to, at=at, actor=actor)


def reject_application(
    session: Session, key: str | int, reason: str, *, at: datetime | None = None, actor: str = ""
) -> PermitApplication:
    """Reject an application before its pass is issued; the reason is required."""
    app = get_application(session, key)
    at = at_or_now(at)
    reason = _text(reason, "reason for the rejection")
    _require(app, _REJECTABLE, "rejected")
    app.reason = reason
    record_event(session, app, "rejected", at, to=PermitStatus.REJECTED, actor=actor, note=reason)
    return app


def step_state(app: PermitApplication, step: str) -> str:
    """Whether an officer's step is ``done``, still ``waiting``, or will never come because the
    application was ``rejected``."""
    if step not in STEPS:
        raise ValidationError(f"{step!r} is not a vehicle-pass step ({', '.join(STEPS)}).")
    status = PermitStatus(app.status)
    if status is PermitStatus.REJECTED:
        return "rejected"
    return "done" if _CHAIN.index(status) >= _CHAIN.index(STEPS[step]) else "waiting"


def effective_status(
    app: PermitApplication, permit: Permit | None, now: datetime | None = None
) -> PermitStatus:
    """The status as it stands at ``now``: ``expired`` once an issued pass's validity ended."""
    status = PermitStatus(app.status)
    live = status in (PermitStatus.ISSUED, PermitStatus.DELIVERED)
    if live and permit is not None and at_or_now(now) > permit.valid_until:
        return PermitStatus.EXPIRED
    return status
