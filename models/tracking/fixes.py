"""One reported position (a fix): its value type, tracker times, and what no tracker can report.

Pure: no database. The OsmAnd protocol (``models.tracking.osmand``) and the track files
(``models.tracking.trackfiles``) read into a :class:`Fix`; ``models.tracking.ingest`` stores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from config.rules import Rules
from models.errors import ValidationError


@dataclass(frozen=True, slots=True)
class Fix:
    """One reported position (WGS-84 unless converted), with optional telemetry."""

    at: datetime
    lat: float
    lon: float
    speed_kmh: float | None = None
    bearing: float | None = None
    altitude: float | None = None
    accuracy: float | None = None
    battery: float | None = None


def parse_time(value: str | float | int | None, default_tz: Any = UTC) -> datetime:
    """A tracker time: Unix seconds or milliseconds, or ISO 8601 (naive means ``default_tz``)."""
    if value is None or value == "":
        raise ValidationError("The position has no time.")
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        seconds = number / 1000.0 if abs(number) >= 1e11 else number
        return datetime.fromtimestamp(seconds, UTC)
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{text!r} is not a time (Unix seconds or ISO 8601).") from None
    return t if t.tzinfo else t.replace(tzinfo=default_tz)


def check_fix(fix: Fix, now: datetime, rules: Rules) -> None:
    """Refuse fixes no tracker can have taken: bad coordinates, no time zone, the future."""
    if fix.at.tzinfo is None:
        raise ValidationError("The position's time must carry a time zone.")
    if not (-90.0 <= fix.lat <= 90.0) or not (-180.0 <= fix.lon <= 180.0):
        raise ValidationError(
            f"The position ({fix.lat}, {fix.lon}) is not a valid latitude and longitude."
        )
    if fix.lat == 0.0 and fix.lon == 0.0:
        raise ValidationError("The position (0, 0) is a tracker without a fix; it was refused.")
    ahead = timedelta(minutes=rules.tracking.future_tolerance_min)
    if fix.at > now + ahead:
        raise ValidationError(
            f"The position is dated {fix.at.isoformat()}, later than the server clock allows; "
            "check the tracker's clock."
        )
