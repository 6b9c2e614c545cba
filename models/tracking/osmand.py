"""The OsmAnd protocol (what Traccar Client phones send): one report into a :class:`Fix`.

Pure parsing, no database: ``flows.api.tracker`` authenticates the device and stores the fix.
Two shapes reach the server, both declared as pydantic models (and published in the API's
OpenAPI document): the query or form fields of the classic protocol (``OsmAndFields``) and the
JSON body of newer app versions (``OsmAndJson``). Every number must be finite and in range and
every text short; a report that is not is refused with one sentence naming the field, with the
value cut short and masked (``models.tracking.fixes.shown``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from models.db import utcnow
from models.errors import ValidationError
from models.tracking.fixes import Fix, parse_time, shown

KNOT_KMH = 1.852
ID_LENGTH = 64  # characters of a device identifier (as ``convoy device bind`` takes them)
TOKEN_LENGTH = 128


def _no_bool(value: Any) -> Any:
    """JSON true/false are not numbers (pydantic would read them as 1 and 0)."""
    if isinstance(value, bool):
        raise ValueError("is true or false, not a number")
    return value


Number = Annotated[float | None, BeforeValidator(_no_bool)]


def _num(low: float, high: float, description: str) -> Any:
    """A finite optional number from ``low`` to ``high``."""
    return Field(None, ge=low, le=high, allow_inf_nan=False, description=description)


LAT, LON = (-90, 90, "WGS-84 latitude, degrees."), (-180, 180, "WGS-84 longitude, degrees.")
BEARING = (0, 360, "Course over ground, degrees.")
ALTITUDE = (-1000, 20000, "Metres above sea level.")
ACCURACY = (0, 1e6, "Horizontal accuracy, metres (or HDOP).")
PERCENT = (0, 100, "Battery level, percent.")


def _time_value(value: Any) -> Any:
    """A time field: short text or a finite number (what it means, ``parse_time`` decides)."""
    value = _no_bool(value)
    if isinstance(value, str) and len(value) > 40:
        raise ValueError("is longer than 40 characters")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("is not a finite number")
    return value


TimeValue = Annotated[
    str | float | None,
    BeforeValidator(_time_value),
    Field(
        default=None,
        description="Unix seconds or milliseconds, or ISO 8601; the server's clock if absent.",
    ),
]


class OsmAndFields(BaseModel):
    """The classic OsmAnd report: query parameters (GET or POST) or a form body."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = Field(None, max_length=ID_LENGTH, description="The device identifier.")
    deviceid: str | None = Field(None, max_length=ID_LENGTH, description="Same as id.")
    lat: Number = _num(*LAT)
    lon: Number = _num(*LON)
    location: str | None = Field(None, max_length=64, description="'lat,lon' instead of both.")
    timestamp: TimeValue
    speed: Number = _num(0, 1100, "Speed over ground, knots.")
    bearing: Number = _num(*BEARING)
    heading: Number = _num(*BEARING)
    altitude: Number = _num(*ALTITUDE)
    accuracy: Number = _num(*ACCURACY)
    hdop: Number = _num(*ACCURACY)
    batt: Number = _num(*PERCENT)
    battery: Number = _num(*PERCENT)
    token: str | None = Field(None, max_length=TOKEN_LENGTH, description="The device token.")


class OsmAndCoords(BaseModel):
    model_config = ConfigDict(extra="ignore")

    latitude: Number = _num(*LAT)
    longitude: Number = _num(*LON)
    speed: Number = _num(-1, 600, "Metres per second; -1 unknown.")
    heading: Number = _num(-1, 360, "Degrees; -1 unknown.")
    altitude: Number = _num(*ALTITUDE)
    accuracy: Number = _num(*ACCURACY)


class OsmAndBattery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    level: Number = _num(-1, 100, "0-1 (or percent); -1 unknown.")
    is_charging: bool | None = None


class OsmAndLocation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    timestamp: TimeValue
    coords: OsmAndCoords
    battery: OsmAndBattery | None = None


class OsmAndJson(BaseModel):
    """The JSON body of newer Traccar Client versions."""

    model_config = ConfigDict(extra="ignore")

    device_id: str | None = Field(None, max_length=ID_LENGTH, description="The device identifier.")
    id: str | None = Field(None, max_length=ID_LENGTH, description="Same as device_id.")
    location: OsmAndLocation
    token: str | None = Field(None, max_length=TOKEN_LENGTH)


@dataclass(frozen=True, slots=True)
class OsmAndReport:
    device_id: str
    fix: Fix
    token: str = ""


_PROBLEMS = {
    "float_parsing": "is not a number",
    "float_type": "is not a number",
    "finite_number": "is not a finite number",
    "string_type": "is not text",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "missing": "is missing",
    "bool_type": "is not true or false",
    "bool_parsing": "is not true or false",
}


def explain(exc: PydanticError, what: str = "The report") -> ValidationError:
    """One sentence for the first problem pydantic found: the field, the value (cut short and
    masked) and what is wrong with it."""
    err = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in err.get("loc", ())) or "body"
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        problem = "is out of range"
        bound = ctx.get("ge", ctx.get("gt", ctx.get("le", ctx.get("lt"))))
        problem += f" ({'at least' if kind.startswith('greater') else 'at most'} {bound})"
    elif kind == "string_too_long":
        problem = f"is longer than {ctx.get('max_length')} characters"
    elif kind == "too_long":
        problem = f"has more than {ctx.get('max_length')} items"
    elif kind == "extra_forbidden":
        return ValidationError(f"{what} has no field {shown(field)}.")
    elif kind == "value_error":
        problem = str(ctx.get("error", "is not valid"))
    else:
        problem = _PROBLEMS.get(kind, "is not valid")
    if kind == "missing":
        return ValidationError(f"{what} needs {field}.")
    value = err.get("input")
    echo = "" if isinstance(value, Mapping | list | bool | None) else f"={shown(value)}"
    return ValidationError(f"The parameter {field}{echo} {problem}.")


def _time(value: Any, now: datetime | None) -> datetime:
    return parse_time(value) if value not in (None, "") else (now or utcnow())


def parse_osmand(
    params: Mapping[str, Any], now: datetime | None = None, *, from_json: bool = False
) -> OsmAndReport:
    """Read an OsmAnd-protocol report: query/form fields (``id``, ``lat``, ``lon``,
    ``timestamp``, ``speed`` in knots, ``bearing``, ``altitude``, ``accuracy``, ``batt``) or the
    JSON body newer Traccar Client versions send (``device_id`` and ``location.coords``)."""
    location = params.get("location")
    if location is not None and not isinstance(location, str):
        return _parse_osmand_json(params, now)
    try:
        f = OsmAndFields.model_validate(dict(params))
    except PydanticError as exc:
        raise explain(exc) from None
    device_id = (f.id or f.deviceid or "").strip()
    if not device_id:
        raise ValidationError("The report has no device id (the 'id' parameter).")
    lat, lon = f.lat, f.lon
    if (lat is None or lon is None) and f.location:
        try:
            doc = dict(zip(("lat", "lon"), f.location.split(","), strict=True))
            both = OsmAndFields.model_validate(doc)
        except (ValueError, PydanticError):
            raise ValidationError("The 'location' parameter is not 'lat,lon'.") from None
        lat, lon = both.lat, both.lon
    if lat is None or lon is None:
        raise ValidationError("The report needs 'lat' and 'lon'.")
    knots = f.speed
    fix = Fix(
        at=_time(f.timestamp, now),
        lat=lat,
        lon=lon,
        speed_kmh=None if knots is None else round(knots * KNOT_KMH, 2),
        bearing=f.bearing if f.bearing is not None else f.heading,
        altitude=f.altitude,
        accuracy=f.accuracy if f.accuracy is not None else f.hdop,
        battery=f.batt if f.batt is not None else f.battery,
    )
    return OsmAndReport(device_id, fix, f.token or "")


def _parse_osmand_json(doc: Mapping[str, Any], now: datetime | None) -> OsmAndReport:
    try:
        report = OsmAndJson.model_validate(dict(doc))
    except PydanticError as exc:
        raise explain(exc) from None
    device_id = (report.device_id or report.id or "").strip()
    if not device_id:
        raise ValidationError("The report has no device_id.")
    coords = report.location.coords
    if coords.latitude is None or coords.longitude is None:
        raise ValidationError("The report needs location.coords.latitude and longitude.")
    mps, heading = coords.speed, coords.heading
    level = report.location.battery.level if report.location.battery else None
    fix = Fix(
        at=_time(report.location.timestamp, now),
        lat=coords.latitude,
        lon=coords.longitude,
        speed_kmh=None if mps is None or mps < 0 else round(mps * 3.6, 2),
        bearing=None if heading is None or heading < 0 else heading,
        altitude=coords.altitude,
        accuracy=coords.accuracy,
        battery=None if level is None or level < 0 else (level * 100 if level <= 1 else level),
    )
    return OsmAndReport(device_id, fix, report.token or "")
