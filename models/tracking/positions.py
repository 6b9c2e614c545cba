"""Positions in: phone trackers (OsmAnd protocol), GPX/CSV tracks, check-ins; and the live
track state the delay monitor reads.

* A **device** (the ``id`` a Traccar Client phone sends) is bound to an escort and a convoy by a
  token. Only a hash of the token is stored; the token is shown once, when it is issued.
* Every fix is stored in WGS-84 (``models.convoy.tables.Position``). A repeat of the same fix (same
  convoy, time and source) is ignored; a fix older than the newest one is kept in the history
  but does not move the live state (out of order).
* The **track state** (one row per convoy) is derived from the stored positions: the newest fix,
  its progress along the planned route, the ETA computed at that fix, and since when the convoy
  has not moved. It is recomputed on every position and can be rebuilt at any time.
* A **stale** fix (older than the mode's stale window when it arrives, e.g. a replayed track) is
  stored but can never raise an alert: the monitor judges only fixes fresh at its own clock.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Field, Session, SQLModel, col

from config import Settings, get_settings
from models.convoy.store import get_convoy, get_escort
from models.convoy.tables import Convoy, Escort, Position
from models.db import UTCDateTime, insert_ignore, utcnow
from models.errors import AuthenticationError, NotFoundError, ValidationError
from models.geo.datums import Datum, to_wgs84
from models.geo.geodesy import Polyline, along_track_km, distance_km
from models.tracking.eta import Router, progress, route_of, speed_profile, thresholds

_POS = Position.__table__  # type: ignore[attr-defined]
KNOT_KMH = 1.852
# How many recent positions are read to find since when a convoy has not moved.
_STOP_WINDOW_ROWS = 500


# --- tables -----------------------------------------------------------------------------------


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
    """The live state of a convoy's track (derived from positions; see ``refresh_state``)."""

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


# --- fixes and ingest -------------------------------------------------------------------------


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


class IngestStatus(StrEnum):
    LIVE = "live"  # the newest fix: the track state moved
    DUPLICATE = "duplicate"  # already stored
    OUT_OF_ORDER = "out_of_order"  # older than the newest fix: history only
    STALE = "stale"  # older than the stale window when it came: history only, never alerts


@dataclass(frozen=True, slots=True)
class IngestResult:
    status: IngestStatus
    state: TrackState | None = None


def _rules(settings: Settings | None) -> Mapping[str, Any]:
    return (settings or get_settings()).rules()


def _tracking_rule(rules: Mapping[str, Any], key: str, default: float) -> float:
    return float(rules.get("tracking", {}).get(key, default))


def check_fix(fix: Fix, now: datetime, rules: Mapping[str, Any]) -> None:
    """Refuse fixes no tracker can have taken: bad coordinates, no time zone, the future."""
    if fix.at.tzinfo is None:
        raise ValidationError("The position's time must carry a time zone.")
    if not (-90.0 <= fix.lat <= 90.0) or not (-180.0 <= fix.lon <= 180.0):
        raise ValidationError(
            f"The position ({fix.lat}, {fix.lon}) is not a valid latitude and longitude."
        )
    if fix.lat == 0.0 and fix.lon == 0.0:
        raise ValidationError("The position (0, 0) is a tracker without a fix; it was refused.")
    ahead = timedelta(minutes=_tracking_rule(rules, "future_tolerance_min", 10))
    if fix.at > now + ahead:
        raise ValidationError(
            f"The position is dated {fix.at.isoformat()}, later than the server clock allows; "
            "check the tracker's clock."
        )


def _position_row(convoy: Convoy, fix: Fix, source: str, now: datetime) -> dict[str, Any]:
    """The ``position`` row of one fix (what ``ingest_fix`` and ``import_fixes`` store)."""
    return {
        "convoy_id": convoy.id,
        "at": fix.at,
        "lat": fix.lat,
        "lon": fix.lon,
        "speed_kmh": fix.speed_kmh,
        "source": source,
        "recorded_at": now,
    }


def _insert_positions(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert positions, ignoring repeats of (convoy, time, source); returns rows added."""
    added = 0
    stmt = insert_ignore(session, _POS)
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        added += int(session.connection().execute(stmt.values(chunk)).rowcount or 0)
    return added


def ingest_fix(
    session: Session,
    convoy: Convoy,
    fix: Fix,
    *,
    source: str,
    now: datetime | None = None,
    settings: Settings | None = None,
    router: Router | None = None,
) -> IngestResult:
    """Store one fix and, when it is the newest fresh one, recompute the track state and ETA."""
    now = now or utcnow()
    rules = _rules(settings)
    check_fix(fix, now, rules)
    if not _insert_positions(session, [_position_row(convoy, fix, source, now)]):
        return IngestResult(IngestStatus.DUPLICATE)
    stale_after = timedelta(minutes=thresholds(rules, convoy.mode).stale_position_min)
    state = session.get(TrackState, convoy.id)
    if state is not None and fix.at <= state.last_fix_at:
        return IngestResult(IngestStatus.OUT_OF_ORDER, state)
    state = refresh_state(session, convoy, settings=settings, router=router)
    if fix.at < now - stale_after:
        return IngestResult(IngestStatus.STALE, state)
    return IngestResult(IngestStatus.LIVE, state)


def refresh_state(
    session: Session,
    convoy: Convoy,
    *,
    settings: Settings | None = None,
    router: Router | None = None,
) -> TrackState | None:
    """Recompute the convoy's track state from its stored positions (None without any)."""
    rules = _rules(settings)
    rows = session.execute(
        select(_POS.c.id, _POS.c.at, _POS.c.lat, _POS.c.lon, _POS.c.speed_kmh, _POS.c.source)
        .where(_POS.c.convoy_id == convoy.id)
        .order_by(_POS.c.at.desc(), _POS.c.id.desc())
        .limit(_STOP_WINDOW_ROWS)
    ).all()
    if not rows:
        return None
    newest = rows[0]
    radius = _tracking_rule(rules, "stop_radius_km", 0.5)
    still_since = newest.at
    for r in rows[1:]:
        if distance_km((newest.lat, newest.lon), (r.lat, r.lon)) > radius:
            break
        still_since = r.at
    route = route_of(convoy.route())
    profile = speed_profile(rules, convoy.mode)
    observed = _observed_kmh(rows, route, profile.road_factor, rules)
    weight = _tracking_rule(rules, "observed_speed_weight", 0.5)
    prog = progress(route, (newest.lat, newest.lon), profile, router, observed, weight)
    state = session.get(TrackState, convoy.id)
    values = {
        "last_fix_at": newest.at,
        "lat": newest.lat,
        "lon": newest.lon,
        "speed_kmh": newest.speed_kmh,
        "source": newest.source,
        "along_km": prog.along_km,
        "off_route_km": prog.off_route_km,
        "remaining_km": prog.remaining_km,
        "remaining_min": prog.remaining_min,
        "eta": newest.at + timedelta(minutes=prog.remaining_min),
        "still_since": still_since,
        "observed_kmh": observed,
        "last_position_id": max(newest.id, state.last_position_id if state else 0),
        "updated_at": utcnow(),
    }
    if state is None:
        state = TrackState(convoy_id=convoy.id, **values)  # type: ignore[arg-type]
        session.add(state)
    else:
        for key, value in values.items():
            setattr(state, key, value)
    session.flush()
    return state


def _observed_kmh(
    rows: Sequence[Any], route: Polyline, road_factor: float, rules: Mapping[str, Any]
) -> float | None:
    """Travelled km/h made good along the route between the newest fix and one about
    ``observed_window_min`` earlier (None when the fixes span less than half of that)."""
    window = timedelta(minutes=_tracking_rule(rules, "observed_window_min", 60))
    newest = rows[0]
    older = None
    for r in rows[1:]:
        older = r
        if newest.at - r.at >= window:
            break
    if older is None or newest.at - older.at < window / 2:
        return None
    hours = (newest.at - older.at).total_seconds() / 3600.0
    made = along_track_km((newest.lat, newest.lon), route) - along_track_km(
        (older.lat, older.lon), route
    )
    return max(0.0, made * road_factor / hours)


def catch_up(
    session: Session, *, settings: Settings | None = None, router: Router | None = None
) -> int:
    """Fold positions stored by any path (CLI check-ins, the simulator, imports) since the last
    call into the track states. Returns how many convoys were refreshed."""
    cursor = session.get(TrackingCursor, "positions")
    since = cursor.position_id if cursor else 0
    rows = session.execute(
        select(_POS.c.convoy_id, func.max(_POS.c.id))
        .where(_POS.c.id > since)
        .group_by(_POS.c.convoy_id)
    ).all()
    if not rows:
        return 0
    newest = max(m for _, m in rows)
    states = track_states(session, (c for c, _ in rows))
    # Convoys whose new positions ingest has not already folded in, loaded in one query.
    ids = [
        convoy_id
        for convoy_id, max_id in rows
        if convoy_id not in states or states[convoy_id].last_position_id < max_id
    ]
    convoys = {
        c.id: c for c in session.execute(select(Convoy).where(col(Convoy.id).in_(ids))).scalars()
    }
    refreshed = 0
    for convoy_id in ids:
        convoy = convoys.get(convoy_id)
        if convoy is not None:
            refresh_state(session, convoy, settings=settings, router=router)
            refreshed += 1
    if cursor is None:
        session.add(TrackingCursor(name="positions", position_id=newest))
    else:
        cursor.position_id = newest
    session.flush()
    return refreshed


# --- devices ----------------------------------------------------------------------------------


def hash_token(token: str) -> str:
    """The stored form of a device token (SHA-256, hex); the token itself is never stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bind_device(session: Session, device_id: str, escort_key: str, code: str) -> tuple[Device, str]:
    """Bind a tracker id to an escort and a convoy; returns the device and a new token (shown
    once). Binding again (another convoy, a lost token) issues a new token; the old one stops."""
    device_id = device_id.strip()
    if not device_id or len(device_id) > 64:
        raise ValidationError("A device id is 1 to 64 characters (the id set in the phone app).")
    escort = get_escort(session, escort_key)
    convoy = get_convoy(session, code)
    token = secrets.token_urlsafe(24)
    found = session.execute(select(Device).where(Device.device_id == device_id)).scalars().first()  # type: ignore[arg-type]
    if found is None:
        found = Device(
            device_id=device_id,
            token_hash=hash_token(token),
            escort_id=escort.id,  # type: ignore[arg-type]
            convoy_id=convoy.id,  # type: ignore[arg-type]
        )
        session.add(found)
    else:
        found.token_hash = hash_token(token)
        found.escort_id = escort.id  # type: ignore[assignment]
        found.convoy_id = convoy.id  # type: ignore[assignment]
        found.active = True
    session.flush()
    return found, token


def revoke_device(session: Session, device_id: str) -> Device:
    found = session.execute(select(Device).where(Device.device_id == device_id)).scalars().first()  # type: ignore[arg-type]
    if found is None:
        raise NotFoundError(f"There is no device {device_id!r}; see 'convoy device list'.")
    found.active = False
    session.flush()
    return found


def authenticate_device(session: Session, device_id: str, token: str) -> Device:
    """The active device ``device_id`` if ``token`` is its token (constant-time comparison)."""
    found = session.execute(select(Device).where(Device.device_id == device_id)).scalars().first()  # type: ignore[arg-type]
    ok = (
        found is not None
        and found.active
        and bool(token)
        and hmac.compare_digest(found.token_hash, hash_token(token))
    )
    if not ok or found is None:
        raise AuthenticationError(
            f"Device {device_id!r} is not bound or its token is wrong; bind it with "
            "'convoy device bind' and put the token in the app's server URL."
        )
    return found


def list_devices(session: Session) -> list[tuple[Device, Escort, Convoy]]:
    rows = session.execute(
        select(Device, Escort, Convoy)
        .join(Escort, Escort.id == Device.escort_id)  # type: ignore[arg-type]
        .join(Convoy, Convoy.id == Device.convoy_id)  # type: ignore[arg-type]
        .order_by(Device.device_id)
    ).all()
    return [(d, e, c) for d, e, c in rows]


def ingest_device_fix(
    session: Session,
    device: Device,
    fix: Fix,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
    router: Router | None = None,
) -> IngestResult:
    """A tracker's report: store the fix under the device's convoy and log its telemetry."""
    now = now or utcnow()
    convoy = session.get(Convoy, device.convoy_id)
    if convoy is None:  # pragma: no cover - foreign key
        raise NotFoundError(f"Device {device.device_id} is bound to a convoy that is gone.")
    result = ingest_fix(
        session,
        convoy,
        fix,
        source=f"device:{device.device_id}",
        now=now,
        settings=settings,
        router=router,
    )
    session.add(
        DeviceReport(
            device_id=device.device_id,
            convoy_id=convoy.id,  # type: ignore[arg-type]
            at=fix.at,
            lat=fix.lat,
            lon=fix.lon,
            speed_kmh=fix.speed_kmh,
            bearing=fix.bearing,
            altitude=fix.altitude,
            accuracy=fix.accuracy,
            battery=fix.battery,
            status=result.status.value,
            received_at=now,
        )
    )
    device.last_seen_at = now
    if fix.battery is not None:
        device.battery = fix.battery
    session.add(device)
    session.flush()
    return result


# --- the OsmAnd protocol (Traccar Client) -----------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class OsmAndReport:
    device_id: str
    fix: Fix
    token: str = ""


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


# --- track files ------------------------------------------------------------------------------


@dataclass
class ImportResult:
    """What a track import did. ``rejected`` lists (line or point number, reason)."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    stale: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def parse_gpx(text: str) -> list[tuple[int, Fix | str]]:
    """Track points (and waypoints/route points with a time) of a GPX 1.0/1.1 file."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValidationError(f"The GPX file is not valid XML: {exc}.") from None
    out: list[tuple[int, Fix | str]] = []
    n = 0
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag not in ("trkpt", "rtept", "wpt"):
            continue
        n += 1
        children = {c.tag.rsplit("}", 1)[-1]: (c.text or "").strip() for c in el}
        try:
            lat, lon = float(el.attrib["lat"]), float(el.attrib["lon"])
            if not children.get("time"):
                raise ValidationError("the point has no <time>")
            at = parse_time(children["time"])
            ele = float(children["ele"]) if children.get("ele") else None
            mps = float(children["speed"]) if children.get("speed") else None
        except (KeyError, ValueError, ValidationError) as exc:
            out.append((n, str(exc).rstrip(".")))
            continue
        speed = None if mps is None else round(mps * 3.6, 2)
        out.append((n, Fix(at=at, lat=lat, lon=lon, altitude=ele, speed_kmh=speed)))
    return out


_CSV_NAMES = {
    "at": ("time", "timestamp", "at", "datetime", "时间", "定位时间"),
    "lat": ("lat", "latitude", "纬度"),
    "lon": ("lon", "lng", "long", "longitude", "经度"),
    "speed_kmh": ("speed_kmh", "speed", "速度"),
}


def parse_track_csv(text: str, default_tz: Any = UTC) -> list[tuple[int, Fix | str]]:
    """Rows of a CSV track: time, lat, lon[, speed in km/h] (English or Chinese headers)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = {h.strip().lower(): h for h in reader.fieldnames or []}
    cols: dict[str, str] = {}
    for key, names in _CSV_NAMES.items():
        for name in names:
            if name in headers:
                cols[key] = headers[name]
                break
    missing = [k for k in ("at", "lat", "lon") if k not in cols]
    if missing:
        raise ValidationError(
            f"The track CSV lacks the column(s) {', '.join(missing)}; "
            "use time, lat, lon (and optionally speed_kmh)."
        )
    out: list[tuple[int, Fix | str]] = []
    for line, rec in enumerate(reader, start=2):
        try:
            speed = rec.get(cols["speed_kmh"]) if "speed_kmh" in cols else None
            fix = Fix(
                at=parse_time(rec[cols["at"]], default_tz),
                lat=float(rec[cols["lat"]]),
                lon=float(rec[cols["lon"]]),
                speed_kmh=float(speed) if speed else None,
            )
        except (TypeError, ValueError, ValidationError) as exc:
            out.append((line, str(exc).rstrip(".")))
            continue
        out.append((line, fix))
    return out


def import_fixes(
    session: Session,
    convoy: Convoy,
    items: Sequence[tuple[int, Fix | str]],
    *,
    source: str,
    datum: Datum = "wgs84",
    now: datetime | None = None,
    settings: Settings | None = None,
    router: Router | None = None,
) -> ImportResult:
    """Store a batch of fixes (bad ones are reported, not stored) and refresh the track once."""
    now = now or utcnow()
    rules = _rules(settings)
    stale_before = now - timedelta(minutes=thresholds(rules, convoy.mode).stale_position_min)
    result = ImportResult(read=len(items))
    rows: list[dict[str, Any]] = []
    fresh: set[datetime] = set()
    for where, item in items:
        if isinstance(item, str):
            result.rejected.append((where, item))
            continue
        lat, lon = to_wgs84(item.lat, item.lon, datum)
        fix = Fix(item.at, lat, lon, item.speed_kmh)
        try:
            check_fix(fix, now, rules)
        except ValidationError as exc:
            result.rejected.append((where, str(exc).rstrip(".")))
            continue
        rows.append(_position_row(convoy, fix, source, now))
        if fix.at >= stale_before:
            fresh.add(fix.at)
    # Repeats inside the file are duplicates too.
    unique = list({r["at"]: r for r in rows}.values())
    result.stored = _insert_positions(session, unique)
    result.duplicates = len(rows) - result.stored
    result.stale = len({r["at"] for r in unique}) - len(fresh)
    if result.stored:
        refresh_state(session, convoy, settings=settings, router=router)
    return result


def import_track_file(
    session: Session,
    code: str,
    path: Path,
    *,
    datum: Datum = "wgs84",
    now: datetime | None = None,
    settings: Settings | None = None,
) -> ImportResult:
    """Import a GPX or CSV track file into convoy ``code`` (idempotent: re-importing adds none)."""
    convoy = get_convoy(session, code)
    text = Path(path).read_text(encoding="utf-8-sig")
    tz = (settings or get_settings()).tz
    suffix = Path(path).suffix.lower()
    if suffix == ".gpx":
        items = parse_gpx(text)
    elif suffix in (".csv", ".txt"):
        items = parse_track_csv(text, tz)
    else:
        raise ValidationError(f"{path} is neither a .gpx nor a .csv track file.")
    return import_fixes(
        session, convoy, items, source=f"file:{Path(path).name}", datum=datum, now=now,
        settings=settings,
    )  # fmt: skip


def track_states(session: Session, convoy_ids: Iterable[int]) -> dict[int, TrackState]:
    ids = list(convoy_ids)
    if not ids:
        return {}
    return {
        s.convoy_id: s
        for s in session.execute(
            select(TrackState).where(TrackState.convoy_id.in_(ids))  # type: ignore[attr-defined]
        ).scalars()
    }


def track_summary(session: Session, code: str, limit: int = 10) -> dict[str, Any]:
    """Positions, ETA and remaining distance of one convoy (no personal data)."""
    convoy = get_convoy(session, code)
    state = session.get(TrackState, convoy.id)
    points = list(
        session.execute(
            select(Position)
            .where(Position.convoy_id == convoy.id)  # type: ignore[arg-type]
            .order_by(Position.at.desc())  # type: ignore[attr-defined]
            .limit(limit)
        ).scalars()
    )[::-1]
    total = session.execute(
        select(func.count()).where(Position.convoy_id == convoy.id)  # type: ignore[arg-type]
    ).scalar_one()
    out: dict[str, Any] = {
        "code": convoy.code,
        "mode": convoy.mode,
        "stage": convoy.stage,
        "planned_arrival": convoy.planned_arrival.isoformat(),
        "positions": total,
        "last": None,
        "eta": None,
        "late_minutes": None,
        "remaining_km": None,
        "off_route_km": None,
        "recent": [
            {"at": p.at.isoformat(), "lat": p.lat, "lon": p.lon, "speed_kmh": p.speed_kmh,
             "source": p.source}
            for p in points
        ],
    }  # fmt: skip
    if state is not None:
        out.update(
            last={"at": state.last_fix_at.isoformat(), "lat": state.lat, "lon": state.lon},
            eta=state.eta.isoformat(),
            late_minutes=round((state.eta - convoy.planned_arrival).total_seconds() / 60),
            remaining_km=round(state.remaining_km, 1),
            off_route_km=round(state.off_route_km, 2),
        )
    return out
