"""One reported position (a fix): its value type, tracker times, and what no tracker can report.

Pure: no database. The OsmAnd protocol (``models.tracking.osmand``) and the track files
(``models.tracking.trackfiles``) read into a :class:`Fix`; ``models.tracking.ingest`` stores it.
"""

from __future__ import annotations

import math
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


# No tracker, track file or check-in reports a time before this (year-0001 and Unix-zero
# clocks are a broken device); the future bound is the rule ``tracking.future_tolerance_min``.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_TIME_TEXT = 64  # characters: longer is not a time


def shown(value: Any, limit: int = 40, quote: bool = True) -> str:
    """A value as an error message may echo it: personal data masked, cut to ``limit``
    characters, quoted unless ``quote`` is false."""
    from models.intake.identity import scrub

    text = scrub(str(value))
    text = text if len(text) <= limit else text[:limit] + "…"
    return repr(text) if quote else text


def parse_time(value: str | float | int | None, default_tz: Any = UTC) -> datetime:
    """A tracker time: Unix seconds or milliseconds, or ISO 8601 (naive means ``default_tz``).

    Not-a-number, infinite and out-of-range values (before ``EARLIEST``, or past year 9999)
    are refused with a ``ValidationError``, never a crash."""
    if value is None or value == "":
        raise ValidationError("The position has no time.")
    if isinstance(value, bool):
        raise ValidationError("A time is Unix seconds or ISO 8601 text, not true or false.")
    if isinstance(value, str) and len(value) > _TIME_TEXT:
        raise ValidationError(f"{shown(value)} is not a time (Unix seconds or ISO 8601).")
    text = str(value).strip()
    try:
        number = float(text)
    except (ValueError, OverflowError):
        number = None
    if number is not None:
        if not math.isfinite(number):
            raise ValidationError(f"{shown(text)} is not a time (a finite Unix time is needed).")
        seconds = number / 1000.0 if abs(number) >= 1e11 else number
        try:
            t = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            t = None
        if t is None or t < EARLIEST:
            raise ValidationError(
                f"The time {shown(text)} is out of range: Unix seconds or milliseconds "
                f"after {EARLIEST:%Y-%m-%d} are expected."
            )
        return t
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{shown(text)} is not a time (Unix seconds or ISO 8601).") from None
    t = t if t.tzinfo else t.replace(tzinfo=default_tz)
    try:
        early = t < EARLIEST
    except OverflowError:  # year 1 with a positive offset cannot be compared in UTC
        early = True
    if early:
        raise ValidationError(
            f"The time {shown(text)} is before {EARLIEST:%Y-%m-%d}; check the device's clock."
        )
    return t


# What a tracker can report besides the position: (field, lowest, highest).
TELEMETRY = (
    ("speed_kmh", 0.0, 2000.0),
    ("bearing", 0.0, 360.0),
    ("altitude", -1000.0, 20000.0),
    ("accuracy", 0.0, 1e6),
    ("battery", 0.0, 100.0),
)


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
    if fix.at < EARLIEST:
        raise ValidationError(
            f"The position is dated {fix.at.isoformat()}, before {EARLIEST:%Y-%m-%d}; check the "
            "tracker's clock."
        )
    for name, low, high in TELEMETRY:
        value = getattr(fix, name)
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            raise ValidationError(
                f"The position's {name} {value} is not a number from {low:g} to {high:g}."
            )
    ahead = timedelta(minutes=rules.tracking.future_tolerance_min)
    if fix.at > now + ahead:
        raise ValidationError(
            f"The position is dated {fix.at.isoformat()}, later than the server clock allows; "
            "check the tracker's clock."
        )
