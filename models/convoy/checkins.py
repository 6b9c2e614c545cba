"""Escorts' reports from the field. The convoy flow waits for these before the steps that need
people: muster roll, screening results, departure, arrival, spot checks and handoffs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator
from pydantic import ValidationError as PydanticError
from sqlalchemy import select, update
from sqlmodel import Session, col

from models.convoy.screening import normalise_health_code, normalise_nat_result
from models.convoy.store import get_convoy
from models.convoy.tables import CheckIn, Convoy, Escort, Passenger, Position
from models.db import insert_ignore, utcnow
from models.errors import ValidationError

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


class HandoffReport(BaseModel):
    enterprise: str
    received_by: str = Field(min_length=1)
    seats: list[int] | None = None
    location: str = ""


class EntryReport(BaseModel):
    seats: list[int]


class PositionReport(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    speed_kmh: float | None = None


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
) -> CheckIn:
    """Store a check-in after checking it against the manifest. Positions and entry
    applications take effect at once; the other kinds are read by the convoy flow."""
    convoy = get_convoy(session, code)
    report = parse_payload(kind, payload or {})
    at = at or utcnow()
    if at.tzinfo is None:
        raise ValidationError("The check-in time must carry a time zone.")
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
    checkin = CheckIn(
        convoy_id=convoy.id,  # type: ignore[arg-type]
        kind=Kind(kind).value,
        at=at,
        escort_id=escort.id if escort else None,
        source=source,
        payload=data,
    )
    session.add(checkin)
    if isinstance(report, PositionReport):
        record_position(session, convoy, at, report.lat, report.lon, report.speed_kmh, source)
    elif isinstance(report, EntryReport):
        session.connection().execute(
            update(_P)
            .where(_P.c.convoy_id == convoy.id, _P.c.seat.in_(report.seats))
            .values(entry_applied=True)
        )
    session.flush()
    return checkin


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
    session.connection().execute(insert_ignore(session, table).values(row))


def latest(session: Session, convoy: Convoy, kind: Kind) -> CheckIn | None:
    return (
        session.execute(
            select(CheckIn)
            .where(col(CheckIn.convoy_id) == convoy.id, col(CheckIn.kind) == kind.value)
            .order_by(col(CheckIn.id).desc())
        )
        .scalars()
        .first()
    )


def all_of(session: Session, convoy: Convoy, kind: Kind) -> list[CheckIn]:
    return list(
        session.execute(
            select(CheckIn)
            .where(col(CheckIn.convoy_id) == convoy.id, col(CheckIn.kind) == kind.value)
            .order_by(col(CheckIn.id))
        ).scalars()
    )
