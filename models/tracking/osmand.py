"""The OsmAnd protocol (what Traccar Client phones send): one report into a :class:`Fix`.

Pure parsing, no database: ``flows.api.tracker`` authenticates the device and stores the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.db import utcnow
from models.errors import ValidationError
from models.tracking.fixes import Fix, parse_time

KNOT_KMH = 1.852


@dataclass(frozen=True, slots=True)
class OsmAndReport:
    device_id: str
    fix: Fix
    token: str = ""


def _num(params: Mapping[str, Any], *names: str) -> float | None:
    for name in names:
        value = params.get(name)
        if value is None or value == "":
            continue
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValidationError(f"The parameter {name}={value!r} is not a number.") from None
    return None


def parse_osmand(params: Mapping[str, Any], now: datetime | None = None) -> OsmAndReport:
    """Read an OsmAnd-protocol report: query/form fields (``id``, ``lat``, ``lon``,
    ``timestamp``, ``speed`` in knots, ``bearing``, ``altitude``, ``accuracy``, ``batt``) or the
    JSON body newer Traccar Client versions send (``device_id`` and ``location.coords``)."""
    if isinstance(params.get("location"), Mapping):
        return _parse_osmand_json(params, now)
    device_id = str(params.get("id") or params.get("deviceid") or "").strip()
    if not device_id:
        raise ValidationError("The report has no device id (the 'id' parameter).")
    lat = _num(params, "lat")
    lon = _num(params, "lon")
    if (lat is None or lon is None) and params.get("location"):
        try:
            lat, lon = (float(x) for x in str(params["location"]).split(","))
        except ValueError:
            raise ValidationError("The 'location' parameter is not 'lat,lon'.") from None
    if lat is None or lon is None:
        raise ValidationError("The report needs 'lat' and 'lon'.")
    ts = params.get("timestamp")
    at = parse_time(ts) if ts not in (None, "") else (now or utcnow())
    knots = _num(params, "speed")
    fix = Fix(
        at=at,
        lat=lat,
        lon=lon,
        speed_kmh=None if knots is None else round(knots * KNOT_KMH, 2),
        bearing=_num(params, "bearing", "heading"),
        altitude=_num(params, "altitude"),
        accuracy=_num(params, "accuracy", "hdop"),
        battery=_num(params, "batt", "battery"),
    )
    return OsmAndReport(device_id, fix, str(params.get("token") or ""))


def _parse_osmand_json(doc: Mapping[str, Any], now: datetime | None) -> OsmAndReport:
    loc = doc["location"]
    coords = loc.get("coords") or {}
    device_id = str(doc.get("device_id") or doc.get("id") or "").strip()
    if not device_id:
        raise ValidationError("The report has no device_id.")
    lat, lon = _num(coords, "latitude"), _num(coords, "longitude")
    if lat is None or lon is None:
        raise ValidationError("The report needs location.coords.latitude and longitude.")
    ts = loc.get("timestamp")
    at = parse_time(ts) if ts not in (None, "") else (now or utcnow())
    mps = _num(coords, "speed")
    batt = loc.get("battery") or {}
    level = _num(batt, "level") if isinstance(batt, Mapping) else None
    fix = Fix(
        at=at,
        lat=lat,
        lon=lon,
        speed_kmh=None if mps is None or mps < 0 else round(mps * 3.6, 2),
        bearing=_num(coords, "heading"),
        altitude=_num(coords, "altitude"),
        accuracy=_num(coords, "accuracy"),
        battery=None if level is None else (level * 100 if 0 <= level <= 1 else level),
    )
    return OsmAndReport(device_id, fix, str(doc.get("token") or ""))
