"""Escorts' reports from the field. The convoy flow waits for these before the steps that need
people: muster roll, screening results, departure, arrival, spot checks and handoffs.

A check-in is stored only if it fits the convoy (``check_fits``): the convoy is not closed, the
step it reports is not already done, the check-in before it in the trip has come, its time is
in order with the others and not later than the server clock allows (the same tolerance for
every source); a time without a zone is read in the configured time zone. A handoff names a
known enterprise, stored with its id. A refusal raises and writes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator
from pydantic import ValidationError as PydanticError
from sqlalchemy import bindparam, select, update
from sqlmodel import Session, col

from config import Settings, get_settings
from models.convoy.lifecycle import STAGES, Stage
from models.convoy.screening import normalise_health_code, normalise_nat_result
from models.convoy.store import lock_convoy, match_enterprise
from models.convoy.tables import CheckIn, Convoy, Enterprise, Escort, Passenger, Position
from models.db import insert_ignore, utcnow
from models.errors import TransitionError, ValidationError

_P = Passenger.__table__  # type: ignore[attr-defined]


class Kind(StrEnum):
    MUSTER = "muster"
    SCREENING = "screening"
    DEPART = "depart"
    POSITION = "position"
    ENTRY = "entry"
    ARRIVE = "arrive"
    ARRIVAL_SCREENING = "arrival_screening"
    HANDOFF = "handoff"


class MusterReport(BaseModel):
    absent: list[int] = Field(default_factory=list, description="Seats of those who did not show.")
    reason: str = "did not show at muster"


class ScreeningEntry(BaseModel):
    seat: int
    temperature: float | None = None
    retemperature: float | None = None
    nat_result: str = ""
    nat_time: datetime | None = None
    health_code: str = ""

    @field_validator("health_code", mode="before")
    @classmethod
    def _code(cls, v: Any) -> str:
        return normalise_health_code(v)

    @field_validator("nat_result", mode="before")
    @classmethod
    def _nat(cls, v: Any) -> str:
        return normalise_nat_result(v)

    @field_validator("nat_time", mode="after")
    @classmethod
    def _zone(cls, v: datetime | None) -> datetime | None:
        return in_zone(v) if v is not None else None


class ScreeningReport(BaseModel):
    results: list[ScreeningEntry] = Field(default_factory=list)
    location: str = ""


class DepartReport(BaseModel):
    absent: list[int] = Field(default_factory=list)
    reason: str = "left before departure"


class ArriveReport(BaseModel):
    missing: list[int] = Field(default_factory=list)
    reason: str = "left the trip before arrival"
    location: str = ""


SIGNATURE_PREFIX = "data:image/png;base64,"
SIGNATURE_MAX_CHARS = 200_000  # a phone's signature drawing is a few tens of kB as PNG


class HandoffReport(BaseModel):
    enterprise: str
    received_by: str = Field(min_length=1)
    seats: list[int] | None = None
    location: str = ""
    signature: str | None = Field(
        default=None,
        description="The receiver's signature drawn on the escort's phone, a PNG data URL "
        "kept as proof of the handoff.",
    )

    @field_validator("signature")
    @classmethod
    def _png(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not v.startswith(SIGNATURE_PREFIX) or len(v) > SIGNATURE_MAX_CHARS:
            raise ValueError(
                f"the signature must be a PNG data URL of at most {SIGNATURE_MAX_CHARS} characters"
            )
        return v


class EntryReport(BaseModel):
    seats: list[int]


class PositionReport(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    speed_kmh: float | None = None


def in_zone(at: datetime, settings: Settings | None = None) -> datetime:
    """A time without a zone is read in the configured time zone."""
    return at if at.tzinfo is not None else at.replace(tzinfo=(settings or get_settings()).tz)


PAYLOADS: dict[Kind, type[BaseModel]] = {
    Kind.MUSTER: MusterReport,
    Kind.SCREENING: ScreeningReport,
    Kind.DEPART: DepartReport,
    Kind.POSITION: PositionReport,
    Kind.ENTRY: EntryReport,
    Kind.ARRIVE: ArriveReport,
    Kind.ARRIVAL_SCREENING: ScreeningReport,
    Kind.HANDOFF: HandoffReport,
}


def _seats_in(report: BaseModel) -> list[int]:
    seats: list[int] = []
    for name in ("absent", "missing", "seats"):
        seats += list(getattr(report, name, None) or [])
    seats += [r.seat for r in getattr(report, "results", [])]
    return seats


def parse_payload(kind: str, payload: dict[str, Any]) -> BaseModel:
    """Validate a check-in payload; errors name the field and the problem."""
    try:
        k = Kind(kind)
    except ValueError:
        kinds = ", ".join(k.value for k in Kind)
        raise ValidationError(f"{kind!r} is not a kind of check-in; use one of {kinds}.") from None
    try:
        return PAYLOADS[k].model_validate(payload)
    except PydanticError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise ValidationError(
            f"The {kind} check-in is invalid at {where}: {first['msg']}."
        ) from None


def record_checkin(
    session: Session,
    code: str,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
    escort: Escort | None = None,
    source: str = "cli",
    now: datetime | None = None,
    settings: Settings | None = None,
    client_id: str | None = None,
) -> CheckIn:
    """Store a check-in after checking it against the manifest and the convoy (``check_fits``).
    Positions and entry applications take effect at once; the other kinds are read by the
    convoy flow. ``client_id`` is the id the reporting device made (stored unique: see
    ``models.tracking.field_checkins``)."""
    settings = settings or get_settings()
    report = parse_payload(kind, payload or {})
    convoy = lock_convoy(session, code)
    now = now or utcnow()
    at = in_zone(at, settings) if at is not None else now
    check_fits(session, convoy, Kind(kind), at, now=now, settings=settings)
    data = stored_payload(session, convoy, Kind(kind), report)
    checkin = CheckIn(
        convoy_id=convoy.id,  # type: ignore[arg-type]
        kind=Kind(kind).value,
        at=at,
        escort_id=escort.id if escort else None,
        source=source,
        payload=data,
        client_id=client_id,
    )
    session.add(checkin)
    # The flush reads who acts before it writes the check-in and its audit row; the position
    # or the entry comes right after (SQLite's one writer is held for the writes only).
    session.flush()
    if isinstance(report, PositionReport):
        record_position(session, convoy, at, report.lat, report.lon, report.speed_kmh, source)
    elif isinstance(report, EntryReport):
        session.connection().execute(
            update(_P)
            .where(_P.c.convoy_id == convoy.id, _P.c.seat.in_(report.seats))
            .values(entry_applied=True)
        )
    return checkin


def stored_payload(
    session: Session, convoy: Convoy, kind: Kind, report: BaseModel
) -> dict[str, Any]:
    """What is stored for a valid report: its fields, seats checked against the manifest, and
    for a handoff the enterprise's own name and id."""
    seats = _seats_in(report)
    if seats:
        known = set(session.execute(select(_P.c.seat).where(_P.c.convoy_id == convoy.id)).scalars())
        unknown = sorted(set(seats) - known)
        if unknown:
            shown = ", ".join(map(str, unknown[:10]))
            raise ValidationError(
                f"Convoy {convoy.code} has no passenger in seat(s) {shown}; check the seat numbers."
            )
    data = report.model_dump(mode="json")
    if isinstance(report, HandoffReport):
        ent = handoff_enterprise(session, convoy, report.enterprise)
        data.update(enterprise=ent.name, enterprise_id=ent.id)
    return data


def handoff_enterprise(session: Session, convoy: Convoy, name: str) -> Enterprise:
    """The enterprise a handoff names: a known one, with workers on this convoy."""
    ent = match_enterprise(session, name.strip()) if name.strip() else None
    on_board = sorted(
        e
        for e in session.execute(
            select(col(Enterprise.name))
            .join(Passenger, col(Passenger.enterprise_id) == col(Enterprise.id))
            .where(col(Passenger.convoy_id) == convoy.id)
            .distinct()
        ).scalars()
    )
    if ent is None or ent.name not in on_board:
        known = "; ".join(on_board[:10]) or "none: its manifest names no known enterprise"
        what = "is not a known enterprise" if ent is None else "has no worker on this convoy"
        raise ValidationError(
            f"{name!r} {what}; a handoff of convoy {convoy.code} names one of its "
            f"enterprises ({known})."
        )
    return ent


# The check-ins of a trip in the order they come, and the step each one feeds.
SEQUENCE: tuple[Kind, ...] = (
    Kind.MUSTER,
    Kind.SCREENING,
    Kind.DEPART,
    Kind.ARRIVE,
    Kind.ARRIVAL_SCREENING,
    Kind.HANDOFF,
)
FEEDS: dict[Kind, Stage] = {
    Kind.MUSTER: Stage.MUSTERING,
    Kind.SCREENING: Stage.SCREENED,
    Kind.DEPART: Stage.DEPARTED,
    Kind.ARRIVE: Stage.ARRIVED,
    Kind.ARRIVAL_SCREENING: Stage.ARRIVAL_SCREENED,
    Kind.HANDOFF: Stage.HANDED_OFF,
}


def future_tolerance(settings: Settings | None = None) -> timedelta:
    """How far ahead of the server clock a reported time may be (the same for every source)."""
    return timedelta(minutes=(settings or get_settings()).rule_set.tracking.future_tolerance_min)


def _shown(at: datetime, settings: Settings) -> str:
    return at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")


def _reached(convoy: Convoy, stage: Stage) -> bool:
    return STAGES.index(Stage(convoy.stage)) >= STAGES.index(stage)


def check_fits(
    session: Session,
    convoy: Convoy,
    kind: Kind,
    at: datetime,
    *,
    now: datetime,
    settings: Settings | None = None,
) -> None:
    """Refuse a check-in that does not fit the convoy's stage and timeline (see module doc)."""
    settings = settings or get_settings()
    if at > now + future_tolerance(settings):
        raise ValidationError(
            f"The check-in is dated {at.isoformat()}, later than the server clock allows; "
            "check the device's clock."
        )
    if convoy.stage == Stage.CLOSED.value:
        raise TransitionError(f"Convoy {convoy.code} is closed; it takes no more check-ins.")
    if kind not in FEEDS:
        return  # positions and entry applications: any time until the convoy closes
    step = FEEDS[kind]
    if kind is not Kind.HANDOFF and _reached(convoy, step):  # handoffs: until it closes
        raise TransitionError(
            f"Convoy {convoy.code} is already at stage {convoy.stage}; a {kind.value} check-in "
            "can no longer be recorded."
        )
    position = SEQUENCE.index(kind)
    times = _latest_times(session, convoy)
    if position > 0:
        before = SEQUENCE[position - 1]
        if before not in times and not _reached(convoy, FEEDS[before]):
            raise TransitionError(
                f"Convoy {convoy.code} has no {before.value} check-in yet; the {kind.value} "
                "check-in comes after it."
            )
    # The nearest step before it first, then the steps after it.
    order = [*reversed(SEQUENCE[:position]), *SEQUENCE[position + 1 :]]
    for other in (k for k in order if k in times):
        earlier = SEQUENCE.index(other) < position
        when = times[other]
        if (earlier and at < when) or (not earlier and at > when):
            word = "before" if earlier else "after"
            raise ValidationError(
                f"The {kind.value} check-in dated {_shown(at, settings)} would come {word} "
                f"the {other.value} check-in of {_shown(when, settings)}; check its time."
            )


_SEQUENCE_TIMES = (  # built once: read for every check-in of a step
    select(col(CheckIn.kind), col(CheckIn.at))
    .where(
        col(CheckIn.convoy_id) == bindparam("convoy_id"),
        col(CheckIn.kind).in_([k.value for k in SEQUENCE]),
    )
    .order_by(col(CheckIn.id))
)


def _latest_times(session: Session, convoy: Convoy) -> dict[Kind, datetime]:
    """The time of the newest check-in of each kind of the trip's sequence (the one its step
    reads; for handoffs, the earliest, as every handoff is applied)."""
    out: dict[Kind, datetime] = {}
    rows = session.execute(_SEQUENCE_TIMES, {"convoy_id": convoy.id}).all()
    for kind, at in rows:
        k = Kind(kind)
        if k is Kind.HANDOFF and k in out:
            continue
        out[k] = at
    return out


def record_position(
    session: Session,
    convoy: Convoy,
    at: datetime,
    lat: float,
    lon: float,
    speed_kmh: float | None = None,
    source: str = "checkin",
) -> None:
    """Store one WGS-84 position; a repeat of the same (time, source) is ignored."""
    row = {
        "convoy_id": convoy.id,
        "at": at,
        "lat": lat,
        "lon": lon,
        "speed_kmh": speed_kmh,
        "source": source,
        "recorded_at": utcnow(),
    }
    table = Position.__table__  # type: ignore[attr-defined]
    session.connection().execute(insert_ignore(session, table), row)


_OF_KIND = select(CheckIn).where(  # built once: every step reads its check-ins
    col(CheckIn.convoy_id) == bindparam("convoy_id"), col(CheckIn.kind) == bindparam("kind")
)
_NEWEST_OF_KIND = _OF_KIND.order_by(col(CheckIn.id).desc()).limit(1)
_ALL_OF_KIND = _OF_KIND.order_by(col(CheckIn.id))


def latest(session: Session, convoy: Convoy, kind: Kind) -> CheckIn | None:
    params = {"convoy_id": convoy.id, "kind": kind.value}
    return session.execute(_NEWEST_OF_KIND, params).scalars().first()


def all_of(session: Session, convoy: Convoy, kind: Kind) -> list[CheckIn]:
    return list(
        session.execute(_ALL_OF_KIND, {"convoy_id": convoy.id, "kind": kind.value}).scalars()
    )
