"""The service desk's tables: an enterprise's liaison officer, its requests and consultations,
and the batch checks of its own staff lists (kept masked: the result sheet is rebuilt from them).

Each table declares how it is audited (``models.access.audit.AUDITED``): writes to requests and
staff checks need ``desk.raise`` (the enterprise's link has it for its own records); the steps
an officer takes need ``desk.write``, which ``models.desk.requests`` asks for explicitly.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.access.audit import AUDITED, Audited
from models.db import UTCDateTime, utcnow


class RequestKind(StrEnum):
    STAFF_RETURN = "staff_return"
    VEHICLE_PASS = "vehicle_pass"
    POLICY_QUESTION = "policy_question"
    OTHER = "other"


class RequestStatus(StrEnum):
    OPEN = "open"
    IN_HAND = "in_hand"
    RESOLVED = "resolved"
    PASSED_ON = "passed_on"


class Channel(StrEnum):
    PAGE = "page"  # raised by the enterprise on its own page
    PHONE = "phone"  # taken by an officer on the phone
    WINDOW = "window"  # taken at the service window


class Liaison(SQLModel, table=True):
    """The officer responsible for one enterprise (一对一负责), and an optional deputy."""

    __tablename__ = "desk_liaison"
    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", unique=True)
    officer_id: int = Field(foreign_key="escort.id", index=True)
    deputy_id: int | None = Field(default=None, foreign_key="escort.id")
    assigned_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeskRequest(SQLModel, table=True):
    """A request or consultation of an enterprise: raised on its page or logged by an officer."""

    __tablename__ = "desk_request"
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(default="", unique=True, description="FW-YYYYMMDD-NNNN, set when raised.")
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    kind: str = Field(index=True)
    channel: str
    text: str
    contact_name: str = ""
    contact_phone: str = Field(default="", description="Masked in every output.")
    status: str = Field(default=RequestStatus.OPEN.value, index=True)
    officer_id: int | None = Field(default=None, foreign_key="escort.id")
    answer: str = ""
    passed_to: str = ""
    raised_at: datetime = Field(sa_type=UTCDateTime, index=True)
    due_at: datetime = Field(sa_type=UTCDateTime, description="The same-day target.")
    status_changed_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class StaffCheck(SQLModel, table=True):
    """One batch check of an enterprise's staff list, with its counts."""

    __tablename__ = "desk_staff_check"
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    channel: str = Field(description="page (uploaded by the enterprise) or cli (an officer).")
    file_name: str = ""
    read: int = 0
    checked: int = Field(default=0, description="People with a valid ID number, checked.")
    cleared: int = 0
    attention: int = 0
    invalid: int = Field(default=0, description="Rows whose ID number or name is not usable.")
    by_reason: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class StaffCheckRow(SQLModel, table=True):
    """One person of a staff check, as the result sheet shows them: masked, with the public
    reason only (never a registry's category or internal reason)."""

    __tablename__ = "desk_staff_check_row"
    __table_args__ = (UniqueConstraint("check_id", "row"),)
    id: int | None = Field(default=None, primary_key=True)
    check_id: int = Field(foreign_key="desk_staff_check.id", index=True)
    row: int
    name: str = Field(default="", description="Masked.")
    id_number: str = Field(default="", description="Masked.")
    outcome: str = Field(description="cleared, attention or invalid.")
    reason: str = Field(default="", description="A key of models.labels.DESK_PUBLIC.")


AUDITED.update(
    {
        "desk_liaison": Audited("liaison", "desk.write", enterprise="enterprise_id"),
        "desk_request": Audited("request", "desk.raise", key="number", enterprise="enterprise_id"),
        "desk_staff_check": Audited("staff check", "desk.raise", enterprise="enterprise_id"),
    }
)  # staff-check rows are written in bulk with their check (one audit row for the check)
