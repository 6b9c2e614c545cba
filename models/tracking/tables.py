"""The tracking tables: devices and their reports, the live track state, the monitor's cursor."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.db import UTCDateTime, utcnow


class Device(SQLModel, table=True):
    """A tracker (an escort's phone running Traccar Client) bound to an escort and a convoy."""

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(index=True, unique=True, description="The id the phone app sends.")
    token_hash: str
    escort_id: int = Field(foreign_key="escort.id", index=True)
    convoy_id: int = Field(foreign_key="convoy.id", index=True)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    battery: float | None = None


class DeviceReport(SQLModel, table=True):
    """Every report a device sent, with its telemetry and what became of it."""

    __tablename__ = "device_report"
    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(index=True)
    convoy_id: int = Field(foreign_key="convoy.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    lat: float
    lon: float
    speed_kmh: float | None = None
    bearing: float | None = None
    altitude: float | None = None
    accuracy: float | None = None
    battery: float | None = None
    status: str
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TrackState(SQLModel, table=True):
    """The live state of a convoy's track (derived from positions; see
    ``models.tracking.ingest.refresh_state``)."""

    __tablename__ = "track_state"
    convoy_id: int = Field(foreign_key="convoy.id", primary_key=True)
    last_fix_at: datetime = Field(sa_type=UTCDateTime)
    lat: float
    lon: float
    speed_kmh: float | None = None
    source: str = ""
    along_km: float = 0.0
    off_route_km: float = 0.0
    remaining_km: float = 0.0
    remaining_min: float = 0.0
    eta: datetime = Field(sa_type=UTCDateTime, description="ETA computed at the fix time.")
    still_since: datetime = Field(
        sa_type=UTCDateTime, description="Earliest fix of the run within the stop radius."
    )
    observed_kmh: float | None = Field(
        default=None, description="Travelled speed made good along the route lately."
    )
    last_position_id: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TrackingCursor(SQLModel, table=True):
    """The last position id the monitor folded into track states (catches every source)."""

    __tablename__ = "tracking_cursor"
    name: str = Field(primary_key=True)
    position_id: int = 0
