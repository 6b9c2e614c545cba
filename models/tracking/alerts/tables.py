"""The alert tables: one row per alert, its append-only history, and once-only announcements."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from models.db import UTCDateTime


class AlertKind(StrEnum):
    LATE_DEPARTURE = "late_departure"
    LATE_ARRIVAL = "late_arrival"
    STALE_POSITION = "stale_position"
    OFF_ROUTE = "off_route"
    STOPPED = "stopped"


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Alert(SQLModel, table=True):
    """One condition of one convoy, from when it was seen until it is resolved."""

    id: int | None = Field(default=None, primary_key=True)
    convoy_id: int = Field(foreign_key="convoy.id", index=True)
    kind: str = Field(index=True)
    state: str = Field(default=AlertState.OPEN.value, index=True)
    # "convoy_id:kind" while unresolved, NULL after: at most one unresolved alert per condition.
    active_key: str | None = Field(default=None, unique=True)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: str = ""
    snoozed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalation_level: int = 0
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_by: str = ""
    resolve_reason: str = ""
    summary: str = ""
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class AlertEvent(SQLModel, table=True):
    """Append-only history of an alert: opened, acknowledged, snoozed, escalated, resolved."""

    __tablename__ = "alert_event"
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    action: str
    actor: str = ""
    note: str = ""


class Announcement(SQLModel, table=True):
    """A once-only convoy event already announced (e.g. ``convoy.arrived``)."""

    __tablename__ = "announcement"
    convoy_id: int = Field(foreign_key="convoy.id", primary_key=True)
    name: str = Field(primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
