"""SQLModel tables. Times are timezone-aware and stored as UTC (see ``models.db.UTCDateTime``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.convoy.lifecycle import Custody, Stage
from models.db import UTCDateTime, utcnow


class Campaign(SQLModel, table=True):
    """One return-to-work operation: many convoys, escorts and enterprises."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    city: str = ""
    description: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Enterprise(SQLModel, table=True):
    """An employer receiving workers at the destination."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    norm_name: str = Field(index=True)
    contact_name: str = ""
    contact_phone: str = ""
    address: str = ""
    district: str = ""
    lat: float | None = None
    lon: float | None = None
    notify_url: str = ""


class Escort(SQLModel, table=True):
    """A police officer who escorts convoys."""

    id: int | None = Field(default=None, primary_key=True)
    badge: str = Field(index=True, unique=True, description="Police number or other unique key.")
    name: str
    unit: str = ""
    phone: str = ""
    notify_url: str = ""


class Convoy(SQLModel, table=True):
    """One charter trip (train, flight or bus)."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    mode: str
    vehicle: str = ""
    origin_name: str
    origin_lat: float
    origin_lon: float
    origin_adcode: str = ""
    destination_name: str
    destination_lat: float
    destination_lon: float
    destination_adcode: str = ""
    waypoints: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    planned_departure: datetime = Field(sa_type=UTCDateTime)
    planned_arrival: datetime = Field(sa_type=UTCDateTime)
    actual_departure: datetime | None = Field(default=None, sa_type=UTCDateTime)
    actual_arrival: datetime | None = Field(default=None, sa_type=UTCDateTime)
    stage: str = Field(default=Stage.PLANNED.value, index=True)
    stage_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    notes: str = ""

    def route(self) -> list[tuple[float, float]]:
        """The planned route as (lat, lon) points: origin, waypoints, destination."""
        pts = [(self.origin_lat, self.origin_lon)]
        pts += [(float(w["lat"]), float(w["lon"])) for w in self.waypoints or []]
        pts.append((self.destination_lat, self.destination_lon))
        return pts


class Assignment(SQLModel, table=True):
    """An escort assigned to a convoy."""

    __table_args__ = (UniqueConstraint("convoy_id", "escort_id"),)
    id: int | None = Field(default=None, primary_key=True)
    convoy_id: int = Field(foreign_key="convoy.id", index=True)
    escort_id: int = Field(foreign_key="escort.id", index=True)
    role: str = "escort"


class Passenger(SQLModel, table=True):
    """A worker on a convoy's manifest, with their current custody state."""

    __table_args__ = (
        UniqueConstraint("convoy_id", "id_number"),
        UniqueConstraint("convoy_id", "seat"),
    )
    id: int | None = Field(default=None, primary_key=True)
    convoy_id: int = Field(foreign_key="convoy.id", index=True)
    seat: int = Field(description="Row number on the manifest, from 1.")
    name: str
    id_number: str = Field(index=True)
    phone: str = ""
    employer: str = ""
    enterprise_id: int | None = Field(default=None, foreign_key="enterprise.id", index=True)
    origin: str = ""
    health_code: str = ""
    nat_result: str = ""
    nat_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    temperature: float | None = None
    entry_applied: bool = False
    custody: str = Field(default=Custody.REGISTERED.value, index=True)
    custody_reason: str = ""
    custody_location: str = ""
    custody_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class CustodyEvent(SQLModel, table=True):
    """Append-only record of one custody change. A passenger enters each state at most once."""

    __tablename__ = "custody_event"
    __table_args__ = (UniqueConstraint("passenger_id", "to_state"),)
    id: int | None = Field(default=None, primary_key=True)
    convoy_id: int = Field(foreign_key="convoy.id", index=True)
    passenger_id: int = Field(foreign_key="passenger.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = ""
    location: str = ""
    stage: str = ""
    from_state: str
    to_state: str
    reason: str = ""


class StageRun(SQLModel, table=True):
    """A completed convoy stage. Written in the same transaction as the stage's work."""

    __tablename__ = "stage_run"
    __table_args__ = (UniqueConstraint("convoy_id", "stage"),)
    id: int | None = Field(default=None, primary_key=True)
    convoy_id: int = Field(foreign_key="convoy.id", index=True)
    stage: str
    at: datetime = Field(sa_type=UTCDateTime, description="When the step happened (field time).")
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    flow_run_id: str = ""
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class CheckIn(SQLModel, table=True):
    """An escort's report from the field: muster, screening results, departure, arrival, handoff…"""

    __tablename__ = "checkin"
    id: int | None = Field(default=None, primary_key=True)
    convoy_id: int = Field(foreign_key="convoy.id", index=True)
    kind: str = Field(index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    escort_id: int | None = Field(default=None, foreign_key="escort.id")
    source: str = "cli"
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    client_id: str | None = Field(
        default=None,
        unique=True,
        max_length=64,
        description="An id the reporting device made (a UUID): a check-in sent again after a "
        "lost answer or from an offline queue is stored once.",
    )


class Position(SQLModel, table=True):
    """A reported position of a convoy (WGS-84)."""

    __table_args__ = (UniqueConstraint("convoy_id", "at", "source"),)
    id: int | None = Field(default=None, primary_key=True)
    convoy_id: int = Field(foreign_key="convoy.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    lat: float
    lon: float
    speed_kmh: float | None = None
    source: str = "checkin"
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ScreeningResult(SQLModel, table=True):
    """One passenger's health screening at one checkpoint (pre_departure or arrival)."""

    __tablename__ = "screening_result"
    __table_args__ = (UniqueConstraint("passenger_id", "checkpoint"),)
    id: int | None = Field(default=None, primary_key=True)
    convoy_id: int = Field(foreign_key="convoy.id", index=True)
    passenger_id: int = Field(foreign_key="passenger.id", index=True)
    checkpoint: str
    at: datetime = Field(sa_type=UTCDateTime)
    location: str = ""
    temperature: float | None = None
    retemperature: float | None = None
    nat_result: str = ""
    nat_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    health_code: str = ""
    passed: bool
    reason: str = ""
