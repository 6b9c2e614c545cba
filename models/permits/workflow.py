"""Vehicle passes (通行证) for construction trucks: application → site survey → route plan →
issue → door-to-door delivery, bulk extension of expiring passes and same-day service.

Plain domain logic, no Prefect. Every change is one call in the caller's transaction that
checks the lifecycle, updates the application (and its permit) and appends a
:class:`PermitEvent`; a step that the lifecycle does not allow raises
:class:`~models.errors.TransitionError`, bad input :class:`~models.errors.ValidationError`.

* Lifecycle: ``applied → surveyed → route_planned → issued → delivered``; ``rejected`` (with a
  reason) from any step before issuance. The route may be planned again until the pass is
  issued. ``expired`` is never stored: a pass is expired once its validity has ended
  (:func:`effective_status`).
* One number from application to delivery: an application gets its number when it is filed
  (``TX-YYYYMMDD-NNNN``, the local date of filing and the application's id) and the pass
  issued for it carries the same number.
* Validity is by calendar days in the display time zone (``settings.timezone``): a pass is
  valid from the start of its first day to the end of its last day, stored as UTC instants.
* Same-day service: an application filed and delivered on the same local day.
* The contact's phone is stored as given and masked (``138****5678``) in every output
  (:func:`permit_record` is the one serialiser).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, select
from sqlmodel import Field, Session, SQLModel, col

from config import Settings, get_settings
from models.convoy.store import get_campaign
from models.convoy.tables import Campaign
from models.db import UTCDateTime, utcnow
from models.errors import NotFoundError, TransitionError, ValidationError
from models.geo.datums import Datum, to_wgs84
from models.geo.gazetteer import resolve_place
from models.intake.identity import is_mobile, mask_phone, normalise_phone

__all__ = [
    "PLATE_RE",
    "STEPS",
    "Permit",
    "PermitApplication",
    "PermitEvent",
    "PermitStatus",
    "SameDayStats",
    "Via",
    "apply_for_permit",
    "day_end",
    "day_start",
    "deliver_permit",
    "effective_status",
    "extend_permits",
    "get_application",
    "get_permit",
    "issue_permit",
    "list_applications",
    "local_day",
    "normalise_plate",
    "permit_events",
    "permit_figures",
    "permit_record",
    "plan_route",
    "plate_problem",
    "reject_application",
    "same_day_stats",
    "step_state",
    "survey_site",
    "validate_plate",
]


class PermitStatus(StrEnum):
    """Where an application is. ``expired`` is computed from the validity, never stored."""

    APPLIED = "applied"
    SURVEYED = "surveyed"
    ROUTE_PLANNED = "route_planned"
    ISSUED = "issued"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    EXPIRED = "expired"


_CHAIN: tuple[PermitStatus, ...] = (
    PermitStatus.APPLIED,
    PermitStatus.SURVEYED,
    PermitStatus.ROUTE_PLANNED,
    PermitStatus.ISSUED,
    PermitStatus.DELIVERED,
)
_OPEN = frozenset(_CHAIN[:-1])  # not yet delivered, not rejected
_REJECTABLE = frozenset(_CHAIN[:3])  # a pass once issued is not rejected

# The officer's steps, in order, and the status each one reaches.
STEPS: dict[str, PermitStatus] = {
    "survey": PermitStatus.SURVEYED,
    "route": PermitStatus.ROUTE_PLANNED,
    "issue": PermitStatus.ISSUED,
    "deliver": PermitStatus.DELIVERED,
}

# --------------------------------------------------------------------------- plates

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_L = "A-HJ-NP-Z"  # letters on plates: no I and no O
_PLATE_PATTERN = (
    rf"^[{_PROVINCES}][{_L}]"
    r"(?:"
    rf"[{_L}0-9]{{4}}[{_L}0-9挂学警港澳]"  # ordinary (blue/yellow) plates, trailers …挂
    rf"|[A-HJK][{_L}0-9]\d{{4}}"  # small new-energy: D/F (and since 2021 A–K), then 5
    r"|\d{5}[DF]"  # large new-energy: 5 digits, then D/F
    r")$"
)
PLATE_RE = re.compile(_PLATE_PATTERN)
"""A Chinese plate, normalised: province character, city letter, then five characters
(ordinary plates, ``挂`` for trailers) or six (new-energy plates, 8 characters in all)."""


def normalise_plate(value: object) -> str:
    """'浙b·12345' → '浙B12345': half-width, upper case, no spaces or separators."""
    text = unicodedata.normalize("NFKC", str(value or "")).upper()
    return re.sub(r"[\s·•.\-]", "", text)


def plate_problem(value: str) -> str | None:
    """None when ``value`` (normalised) is a valid plate; otherwise the reason, in words."""
    if not value:
        return "a plate number is required"
    if value[0] not in _PROVINCES:
        return "a plate starts with a province character such as 浙"
    if len(value) not in (7, 8):
        return f"a plate has 7 characters (8 for new-energy vehicles), this one has {len(value)}"
    if "I" in value or "O" in value:
        return "plates never use the letters I and O"
    if not PLATE_RE.match(value):
        if len(value) == 8:
            return (
                "a new-energy plate is a letter, then D or F followed by five characters "
                "(small vehicles) or five digits followed by D or F (large vehicles)"
            )
        return "after the province a plate has a letter and five letters or digits"
    return None


def validate_plate(value: object) -> str:
    """The normalised plate, or :class:`ValidationError` saying what is wrong."""
    plate = normalise_plate(value)
    problem = plate_problem(plate)
    if problem:
        raise ValidationError(f"The plate number {str(value)!r} is not valid: {problem}.")
    return plate


# --------------------------------------------------------------------------- tables


class PermitApplication(SQLModel, table=True):
    """A construction enterprise's application for a vehicle pass for one truck."""

    __tablename__ = "permit_application"
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(default="", unique=True, description="TX-YYYYMMDD-NNNN, set when filed.")
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    enterprise: str
    contact_name: str = ""
    contact_phone: str = Field(default="", description="Masked in every output.")
    plate: str = Field(index=True)
    vehicle_type: str
    site_name: str
    site_address: str = ""
    site_lat: float
    site_lon: float
    waypoints: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    requested_from: date
    requested_until: date
    status: str = Field(default=PermitStatus.APPLIED.value, index=True)
    reason: str = Field(default="", description="Why it was rejected.")
    applied_at: datetime = Field(sa_type=UTCDateTime, index=True)
    status_changed_at: datetime = Field(sa_type=UTCDateTime)

    def route(self) -> list[tuple[float, float]]:
        """The permitted route as (lat, lon) points: the waypoints, then the site."""
        return [(float(w["lat"]), float(w["lon"])) for w in self.waypoints or []] + [
            (self.site_lat, self.site_lon)
        ]


class Permit(SQLModel, table=True):
    """The vehicle pass issued for an application (at most one per application)."""

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="permit_application.id", unique=True)
    number: str = Field(unique=True)
    issued_at: datetime = Field(sa_type=UTCDateTime)
    valid_from: datetime = Field(sa_type=UTCDateTime)
    valid_until: datetime = Field(sa_type=UTCDateTime, index=True)
    status: str = Field(default=PermitStatus.ISSUED.value, description="issued or delivered.")
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_to: str = ""


class PermitEvent(SQLModel, table=True):
    """Append-only record of one change of an application or its pass."""

    __tablename__ = "permit_event"
    __table_args__ = (UniqueConstraint("application_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="permit_application.id", index=True)
    seq: int = Field(description="1, 2, 3 … per application.")
    at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = ""
    kind: str
    from_status: str = ""
    to_status: str = ""
    note: str = ""
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


# --------------------------------------------------------------------------- helpers


def _tz(settings: Settings | None) -> Any:
    return (settings or get_settings()).tz


def _aware(at: datetime | None, what: str = "time") -> datetime:
    if at is None:
        return utcnow()
    if at.tzinfo is None:
        raise ValidationError(f"The {what} {at.isoformat()} has no time zone; give one.")
    return at


def local_day(at: datetime, settings: Settings | None = None) -> date:
    """The calendar day of ``at`` in the display time zone."""
    return at.astimezone(_tz(settings)).date()


def day_start(day: date, settings: Settings | None = None) -> datetime:
    """The first instant of a local calendar day."""
    return datetime.combine(day, time.min, tzinfo=_tz(settings))


def day_end(day: date, settings: Settings | None = None) -> datetime:
    """The last instant of a local calendar day (a pass valid until that day ends then)."""
    return datetime.combine(day, time.max, tzinfo=_tz(settings))


def _local_text(at: datetime | None, settings: Settings | None = None) -> str:
    return "" if at is None else at.astimezone(_tz(settings)).strftime("%Y-%m-%d %H:%M")


def _text(value: str | None, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationError(f"The {what} is required.")
    return text


def _last_event(session: Session, app: PermitApplication) -> PermitEvent | None:
    return (
        session.execute(
            select(PermitEvent)
            .where(col(PermitEvent.application_id) == app.id)
            .order_by(col(PermitEvent.seq).desc())
        )
        .scalars()
        .first()
    )


def _record(
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
    last = _last_event(session, app)
    if last is not None and at < last.at:
        raise ValidationError(
            f"Application {app.number}: the time {_local_text(at)} is before its last recorded "
            f"step ({last.kind} at {_local_text(last.at)}); give a later time."
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


# --------------------------------------------------------------------------- look-ups


def get_application(session: Session, key: str | int) -> PermitApplication:
    """An application by its number (``TX-20200220-0001``) or its numeric id."""
    text = str(key).strip()
    stmt = select(PermitApplication)
    if text.isdigit():
        stmt = stmt.where(col(PermitApplication.id) == int(text))
    else:
        stmt = stmt.where(col(PermitApplication.number) == text.upper())
    found = session.execute(stmt).scalars().first()
    if found is None:
        numbers = list(session.execute(select(col(PermitApplication.number))).scalars())
        near = difflib.get_close_matches(text.upper(), numbers, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(near)}?" if near else ""
        raise NotFoundError(f"There is no vehicle-pass application {text!r}.{hint}")
    return found


def get_permit(session: Session, app: PermitApplication) -> Permit | None:
    return (
        session.execute(select(Permit).where(col(Permit.application_id) == app.id))
        .scalars()
        .first()
    )


def list_applications(
    session: Session, *, status: str | None = None, campaign: str | None = None
) -> list[PermitApplication]:
    stmt = select(PermitApplication).order_by(col(PermitApplication.id))
    if status:
        stmt = stmt.where(col(PermitApplication.status) == status)
    if campaign:
        stmt = stmt.join(Campaign).where(col(Campaign.name) == campaign)
    return list(session.execute(stmt).scalars())


def permit_events(session: Session, app: PermitApplication) -> list[PermitEvent]:
    return list(
        session.execute(
            select(PermitEvent)
            .where(col(PermitEvent.application_id) == app.id)
            .order_by(col(PermitEvent.seq))
        ).scalars()
    )


def effective_status(
    app: PermitApplication, permit: Permit | None, now: datetime | None = None
) -> PermitStatus:
    """The status as it stands at ``now``: ``expired`` once an issued pass's validity ended."""
    status = PermitStatus(app.status)
    live = status in (PermitStatus.ISSUED, PermitStatus.DELIVERED)
    if live and permit is not None and _aware(now) > permit.valid_until:
        return PermitStatus.EXPIRED
    return status


# --------------------------------------------------------------------------- lifecycle


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
    at = _aware(at)
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
                col(PermitApplication.status).in_([s.value for s in _OPEN]),
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
    _record(session, app, "applied", at, to=PermitStatus.APPLIED, actor=actor)
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
    at = _aware(at)
    if not ok:
        if not note.strip():
            raise ValidationError("A failed survey needs the reason (--note).")
        return reject_application(session, app.number, note, at=at, actor=actor)
    _require(app, frozenset({PermitStatus.APPLIED}), "surveyed")
    _record(session, app, "surveyed", at, to=PermitStatus.SURVEYED, actor=actor, note=note)
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
    at = _aware(at)
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
    _record(
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
    at = _aware(at)
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
    _record(
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
    at = _aware(at)
    receiver = _text(to, "name of whoever received the pass")
    _require(app, frozenset({PermitStatus.ISSUED}), "delivered")
    permit = get_permit(session, app)
    assert permit is not None  # issued ⇒ a permit exists (same transaction)
    permit.status = PermitStatus.DELIVERED.value
    permit.delivered_at = at
    permit.delivered_to = receiver
    session.add(permit)
    _record(
        session, app, "delivered", at, to=PermitStatus.DELIVERED, actor=actor, data={"to": receiver}
    )
    return permit


def reject_application(
    session: Session, key: str | int, reason: str, *, at: datetime | None = None, actor: str = ""
) -> PermitApplication:
    """Reject an application before its pass is issued; the reason is required."""
    app = get_application(session, key)
    at = _aware(at)
    reason = _text(reason, "reason for the rejection")
    _require(app, _REJECTABLE, "rejected")
    app.reason = reason
    _record(session, app, "rejected", at, to=PermitStatus.REJECTED, actor=actor, note=reason)
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


# --------------------------------------------------------------------------- bulk extension


def extend_permits(
    session: Session,
    until: date,
    *,
    expiring_within_days: int | None = None,
    numbers: Sequence[str] | None = None,
    now: datetime | None = None,
    actor: str = "",
    settings: Settings | None = None,
) -> list[dict[str, str]]:
    """Extend to the end of ``until`` every pass still valid that expires within
    ``expiring_within_days``, or the passes ``numbers``, in the caller's transaction.

    Idempotent: a pass already valid until then (or later) is left alone, never shortened.
    Returns what changed: ``[{"number", "plate", "from", "to"}]`` (local dates).
    """
    now = _aware(now)
    if (expiring_within_days is None) == (numbers is None):
        raise ValidationError("Extend either the passes expiring within N days or a list of them.")
    new_end = day_end(until, settings)
    if new_end < now:
        raise ValidationError(f"The new end date {until} has already passed.")
    live = (PermitStatus.ISSUED.value, PermitStatus.DELIVERED.value)
    rows: list[tuple[Permit, PermitApplication]]
    if numbers is not None:
        rows = []
        for number in numbers:
            app = get_application(session, number)
            permit = get_permit(session, app)
            if permit is None or app.status not in live:
                raise TransitionError(
                    f"Application {app.number} is {app.status}; only an issued pass can be "
                    "extended."
                )
            rows.append((permit, app))
    else:
        if expiring_within_days is None or expiring_within_days < 0:
            raise ValidationError("The number of days must be zero or more.")
        horizon = day_end(local_day(now, settings) + timedelta(days=expiring_within_days), settings)
        found = session.execute(
            select(Permit, PermitApplication)
            .join(PermitApplication, col(PermitApplication.id) == col(Permit.application_id))
            .where(
                col(PermitApplication.status).in_(live),
                col(Permit.valid_until) >= now,
                col(Permit.valid_until) <= horizon,
            )
            .order_by(col(Permit.valid_until), col(Permit.id))
        ).all()
        rows = [(p, a) for p, a in found]
    changed: list[dict[str, str]] = []
    for permit, app in rows:
        if permit.valid_until >= new_end:
            continue
        before = local_day(permit.valid_until, settings)
        permit.valid_until = new_end
        session.add(permit)
        _record(
            session,
            app,
            "extended",
            max(now, _last_at(session, app)),
            actor=actor,
            data={"from": str(before), "to": str(until)},
        )
        changed.append(
            {"number": permit.number, "plate": app.plate, "from": str(before), "to": str(until)}
        )
    session.flush()
    return changed


def _last_at(session: Session, app: PermitApplication) -> datetime:
    last = _last_event(session, app)
    return last.at if last else app.applied_at


# --------------------------------------------------------------------------- same-day service


@dataclass
class SameDayStats:
    """Same-day service: applications filed and delivered on the same local day."""

    day: date
    delivered: int
    same_day: int
    rate: float | None
    at_risk: list[dict[str, Any]]
    overdue: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": str(self.day),
            "delivered": self.delivered,
            "same_day": self.same_day,
            "same_day_rate": self.rate,
            "at_risk": self.at_risk,
            "overdue": self.overdue,
        }


def same_day_stats(
    session: Session,
    *,
    now: datetime | None = None,
    campaign: str | None = None,
    settings: Settings | None = None,
) -> SameDayStats:
    """The same-day rate over delivered passes, and the open applications: ``at_risk`` (filed
    today, not delivered yet: hours left before local midnight) and ``overdue`` (filed on an
    earlier day, still open: same-day service already missed)."""
    now = _aware(now)
    today = local_day(now, settings)
    midnight = day_start(today + timedelta(days=1), settings)
    delivered = same = 0
    at_risk: list[dict[str, Any]] = []
    overdue: list[dict[str, Any]] = []
    stmt = (
        select(PermitApplication, Permit)
        .outerjoin(Permit, col(Permit.application_id) == col(PermitApplication.id))
        .order_by(col(PermitApplication.id))
    )
    if campaign:
        stmt = stmt.join(Campaign).where(col(Campaign.name) == campaign)
    for app, permit in session.execute(stmt).all():
        status = PermitStatus(app.status)
        if status is PermitStatus.DELIVERED:
            delivered += 1
            if permit is not None and permit.delivered_at is not None:
                same += local_day(permit.delivered_at, settings) == local_day(
                    app.applied_at, settings
                )
        elif status in _OPEN:
            entry = {
                "number": app.number,
                "plate": app.plate,
                "status": app.status,
                "applied_at": _local_text(app.applied_at, settings),
            }
            if local_day(app.applied_at, settings) == today:
                hours = round((midnight - now).total_seconds() / 3600, 1)
                at_risk.append({**entry, "hours_left": hours})
            else:
                overdue.append(entry)
    rate = round(same / delivered, 4) if delivered else None
    return SameDayStats(today, delivered, same, rate, at_risk, overdue)


def permit_figures(session: Session, campaign: str | None = None) -> dict[str, Any]:
    """Campaign figures of the vehicle passes: passes issued (delivered ones included),
    delivered, and the same-day rate."""
    stmt = select(col(PermitApplication.status))
    if campaign:
        stmt = stmt.join(Campaign).where(col(Campaign.name) == campaign)
    statuses = list(session.execute(stmt).scalars())
    issued = sum(s in (PermitStatus.ISSUED.value, PermitStatus.DELIVERED.value) for s in statuses)
    stats = same_day_stats(session, campaign=campaign)
    return {
        "passes_issued": issued,
        "passes_delivered": stats.delivered,
        "passes_same_day_rate": stats.rate,
    }


# --------------------------------------------------------------------------- output


def permit_record(
    session: Session,
    app: PermitApplication,
    *,
    events: bool = False,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """One application (and its pass) for output: times local, the phone masked."""
    permit = get_permit(session, app)
    record: dict[str, Any] = {
        "number": app.number,
        "id": app.id,
        "status": effective_status(app, permit, now).value,
        "enterprise": app.enterprise,
        "contact": app.contact_name,
        "phone": mask_phone(app.contact_phone),
        "plate": app.plate,
        "vehicle_type": app.vehicle_type,
        "site": app.site_name,
        "address": app.site_address,
        "site_point": [round(app.site_lat, 6), round(app.site_lon, 6)],
        "route": [w["name"] for w in app.waypoints or []],
        "requested_from": str(app.requested_from),
        "requested_until": str(app.requested_until),
        "applied_at": _local_text(app.applied_at, settings),
        "reason": app.reason,
        "issued_at": _local_text(permit.issued_at, settings) if permit else "",
        "valid_from": str(local_day(permit.valid_from, settings)) if permit else "",
        "valid_until": str(local_day(permit.valid_until, settings)) if permit else "",
        "delivered_at": _local_text(permit.delivered_at, settings) if permit else "",
        "delivered_to": permit.delivered_to if permit else "",
    }
    if events:
        record["events"] = [
            {
                "at": _local_text(e.at, settings),
                "kind": e.kind,
                "from": e.from_status,
                "to": e.to_status,
                "actor": e.actor,
                "note": e.note,
                **({"data": e.data} if e.data else {}),
            }
            for e in permit_events(session, app)
        ]
    return record
