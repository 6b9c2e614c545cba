"""The vehicle-pass tables: applications (one enterprise, one site, one or many vehicles), the
vehicles, the numbered pass issued per vehicle, delivery trips, and the history."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow


class PermitStatus(StrEnum):
    """Where an application is. ``expired`` is computed from the validity, never stored."""

    APPLIED = "applied"
    SURVEYED = "surveyed"
    ROUTE_PLANNED = "route_planned"
    ISSUED = "issued"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    EXPIRED = "expired"


class PermitApplication(SQLModel, table=True):
    """A construction enterprise's application for vehicle passes: one site, one survey, one
    route, and one or many vehicles (``permit_vehicle``), each getting its own pass."""

    __tablename__ = "permit_application"
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(default="", unique=True, description="TX-YYYYMMDD-NNNN, set when filed.")
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    enterprise: str
    contact_name: str = ""
    contact_phone: str = Field(default="", description="Masked in every output.")
    site_name: str
    project: str = Field(default="", index=True, description="The major project (delivery).")
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


class PermitVehicle(SQLModel, table=True):
    """One vehicle of an application (1, 2, 3 … in the order given)."""

    __tablename__ = "permit_vehicle"
    __table_args__ = (
        UniqueConstraint("application_id", "seq"),
        UniqueConstraint("application_id", "plate"),
    )
    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="permit_application.id")  # indexed by the unique
    seq: int
    plate: str = Field(index=True)
    vehicle_type: str
    driver: str = ""
    driver_phone: str = Field(default="", description="Masked in every output.")


class PermitTrip(SQLModel, table=True):
    """A delivery trip: one officer taking many passes to the site of one major project."""

    __tablename__ = "permit_trip"
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(default="", unique=True, description="SD-YYYYMMDD-NNNN, set when made.")
    project: str = Field(index=True)
    planned_at: datetime = Field(sa_type=UTCDateTime)
    officer: str = ""
    note: str = ""
    status: str = Field(default="planned", description="planned, out, done.")


class Permit(SQLModel, table=True):
    """The numbered pass issued for one vehicle of an application."""

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="permit_application.id", index=True)
    vehicle_id: int | None = Field(default=None, foreign_key="permit_vehicle.id", unique=True)
    trip_id: int | None = Field(default=None, foreign_key="permit_trip.id", index=True)
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
