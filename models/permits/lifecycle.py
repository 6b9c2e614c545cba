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
from models.errors import TransitionError, ValidationError
from models.geo.datums import Datum, to_wgs84
from models.geo.gazetteer import resolve_place
from models.intake.identity import is_mobile, mask_phone, normalise_phone
from models.labels import local_time
from models.permits.days import at_or_now, day_end, day_start, local_day
from models.permits.plates import validate_plate
from models.permits.queries import get_application, get_permit, last_event
from models.permits.tables import Permit, PermitApplication, PermitEvent, PermitStatus

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


def apply_for_permit(
    session: Session,
    *,
    enterprise: str,
    plate: str,
    vehicle_type: str,
    site_name: str,
    valid_until: date,
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
    """File an application. The site point is ``lat``/``lon`` (in ``crs``, stored as WGS-84)
    or a place resolved through the gazetteer (``place``, else the address)."""
    at = at_or_now(at)
    enterprise = _text(enterprise, "applicant enterprise")
    vehicle_type = _text(vehicle_type, "vehicle type")
    site_name = _text(site_name, "site name")
    plate = validate_plate(plate)
    phone = normalise_phone(contact_phone)
    if phone and not is_mobile(phone):
        raise ValidationError(
            f"The contact phone {mask_phone(phone)} is not a mainland mobile number "
            "(11 digits starting 13–19)."
        )
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
    duplicate = (
        session.execute(
            select(PermitApplication).where(
                col(PermitApplication.plate) == plate,
                col(PermitApplication.status).in_([s.value for s in OPEN_STATUSES]),
            )
        )
        .scalars()
        .first()
    )
    if duplicate is not None:
        raise ValidationError(
            f"The truck {plate} already has an open application ({duplicate.number}); "
            "finish or reject it first."
        )
    app = PermitApplication(
        enterprise=enterprise,
        contact_name=(contact_name or "").strip(),
        contact_phone=phone,
        plate=plate,
        vehicle_type=vehicle_type,
        site_name=site_name,
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
    app.number = f"TX-{local_day(at, settings):%Y%m%d}-{app.id:04d}"
    record_event(session, app, "applied", at, to=PermitStatus.APPLIED, actor=actor)
    return app


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
) -> Permit:
    """Issue the pass for a routed application, valid over the requested days (the end may be
    changed with ``valid_until``). The pass carries the application's number."""
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
    permit = Permit(
        application_id=app.id or 0,
        number=app.number,
        issued_at=at,
        valid_from=day_start(app.requested_from, settings),
        valid_until=day_end(last_day, settings),
    )
    session.add(permit)
    record_event(
        session,
        app,
        "issued",
        at,
        to=PermitStatus.ISSUED,
        actor=actor,
        data={"valid_from": str(app.requested_from), "valid_until": str(last_day)},
    )
    return permit


def deliver_permit(
    session: Session,
    key: str | int,
    *,
    to: str,
    at: datetime | None = None,
    actor: str = "",
) -> Permit:
    """Record the door-to-door delivery of an issued pass to ``to`` (who received it)."""
    app = get_application(session, key)
    at = at_or_now(at)
    receiver = _text(to, "name of whoever received the pass")
    _require(app, frozenset({PermitStatus.ISSUED}), "delivered")
    permit = get_permit(session, app)
    assert permit is not None  # issued ⇒ a permit exists (same transaction)
    permit.status = PermitStatus.DELIVERED.value
    permit.delivered_at = at
    permit.delivered_to = receiver
    session.add(permit)
    record_event(
        session, app, "delivered", at, to=PermitStatus.DELIVERED, actor=actor, data={"to": receiver}
    )
    return permit


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
