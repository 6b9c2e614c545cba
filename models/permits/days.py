"""Local calendar days of the display time zone (``settings.timezone``), as passes count them.

A pass is valid from the start of its first day to the end of its last day, stored as UTC
instants; same-day service compares local days, not UTC ones.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from config import Settings, get_settings
from models.db import utcnow
from models.errors import ValidationError


def _tz(settings: Settings | None) -> Any:
    return (settings or get_settings()).tz


def at_or_now(at: datetime | None, what: str = "time") -> datetime:
    """``at`` (which must carry a time zone), or now when it is not given."""
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
