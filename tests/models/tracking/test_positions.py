"""Positions in: ingest rules, devices and tokens, the OsmAnd protocol, GPX/CSV imports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from config import Settings
from models.convoy.checkins import record_checkin
from models.convoy.store import assign_escort, get_convoy, upsert_escort
from models.convoy.tables import Position
from models.db import session_scope
from models.errors import AuthenticationError, ValidationError
from models.geo.datums import wgs84_to_gcj02
from models.geo.geodesy import interpolate_along
from models.tracking.eta import route_of
from models.tracking.positions import (
    DeviceReport,
    Fix,
    IngestStatus,
    TrackState,
    authenticate_device,
    bind_device,
    catch_up,
    import_track_file,
    ingest_device_fix,
    ingest_fix,
    parse_osmand,
    revoke_device,
)

SH = ZoneInfo("Asia/Shanghai")
DEP = datetime(2020, 2, 20, 14, 0, tzinfo=SH)


def _point(code: str, frac: float) -> tuple[float, float]:
    with session_scope() as s:
        return interpolate_along(route_of(get_convoy(s, code).route()), frac)


def test_ingest_live_duplicate_out_of_order_stale(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-TR1", n=2)
    now = DEP + timedelta(hours=2)
    with session_scope() as s:
        c = get_convoy(s, code)
        lat, lon = _point(code, 0.1)
        first = ingest_fix(s, c, Fix(now, lat, lon, 80.0), source="t", now=now)
        assert first.status is IngestStatus.LIVE and first.state is not None
        eta1, km1 = first.state.eta, first.state.remaining_km
        assert ingest_fix(s, c, Fix(now, lat, lon), source="t", now=now).status is (
            IngestStatus.DUPLICATE
        )
        older = ingest_fix(
            s, c, Fix(now - timedelta(minutes=5), *_point(code, 0.09)), source="t", now=now
        )
        assert older.status is IngestStatus.OUT_OF_ORDER
        assert s.get(TrackState, c.id).last_fix_at == now  # the state did not move back
        lat2, lon2 = _point(code, 0.2)
        later = now + timedelta(hours=2)
        second = ingest_fix(s, c, Fix(later, lat2, lon2), source="t", now=later)
        assert second.state is not None and second.state.remaining_km < km1
        assert second.state.eta != eta1  # recomputed on every position
        # A fix older than the bus stale window (20 min) when it comes: kept, flagged.
        stale = ingest_fix(
            s, c, Fix(later + timedelta(minutes=1), lat2, lon2), source="t",
            now=later + timedelta(hours=1),
        )  # fmt: skip
        assert stale.status is IngestStatus.STALE
        n = s.execute(select(func.count()).where(Position.convoy_id == c.id)).scalar_one()
        assert n == 4


def test_ingest_refuses_impossible_fixes(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-TR2", n=1)
    now = DEP
    with session_scope() as s:
        c = get_convoy(s, code)
        with pytest.raises(ValidationError, match="server clock"):
            ingest_fix(s, c, Fix(now + timedelta(hours=1), 30.0, 120.0), source="t", now=now)
        with pytest.raises(ValidationError, match="valid latitude"):
            ingest_fix(s, c, Fix(now, 95.0, 120.0), source="t", now=now)
        with pytest.raises(ValidationError, match="without a fix"):
            ingest_fix(s, c, Fix(now, 0.0, 0.0), source="t", now=now)


def test_devices_are_bound_by_token(make_convoy: Callable[..., str], settings: Settings) -> None:
    code = make_convoy("BUS-TR3", n=1)
    with session_scope() as s:
        e = upsert_escort(s, "P2001", name="王警官")
        assign_escort(s, get_convoy(s, code), e)
        device, token = bind_device(s, "phone-7", "P2001", code)
        assert device.token_hash != token and len(token) >= 24
    with session_scope() as s:
        assert authenticate_device(s, "phone-7", token).device_id == "phone-7"
        with pytest.raises(AuthenticationError, match="token is wrong"):
            authenticate_device(s, "phone-7", "guess")
        with pytest.raises(AuthenticationError):
            authenticate_device(s, "phone-8", token)
        _, new_token = bind_device(s, "phone-7", "P2001", code)  # rebinding rotates the token
        with pytest.raises(AuthenticationError):
            authenticate_device(s, "phone-7", token)
        device = authenticate_device(s, "phone-7", new_token)
        lat, lon = _point(code, 0.05)
        r = ingest_device_fix(s, device, Fix(DEP, lat, lon, 60, battery=81), now=DEP)
        assert r.status is IngestStatus.LIVE
        report = s.execute(select(DeviceReport)).scalars().one()
        assert (report.battery, report.status) == (81, "live")
        revoke_device(s, "phone-7")
        with pytest.raises(AuthenticationError):
            authenticate_device(s, "phone-7", new_token)


def test_parse_osmand_query_and_json() -> None:
    r = parse_osmand(
        {"id": "p1", "lat": "31.8", "lon": "117.2", "timestamp": "1582178400", "speed": "10",
         "bearing": "90", "altitude": "12", "accuracy": "8", "batt": "77"}
    )  # fmt: skip
    assert r.device_id == "p1"
    assert r.fix.at == datetime(2020, 2, 20, 6, 0, tzinfo=UTC)
    assert r.fix.speed_kmh == pytest.approx(18.52)  # knots → km/h
    assert (r.fix.bearing, r.fix.altitude, r.fix.accuracy, r.fix.battery) == (90, 12, 8, 77)
    ms = parse_osmand({"id": "p1", "lat": "31.8", "lon": "117.2", "timestamp": "1582178400000"})
    assert ms.fix.at == r.fix.at
    iso = parse_osmand(
        {"deviceid": "p1", "location": "31.8,117.2", "timestamp": "2020-02-20T06:00:00Z"}
    )
    assert (iso.fix.lat, iso.fix.at) == (31.8, r.fix.at)
    js = parse_osmand(
        {
            "device_id": "p2",
            "location": {
                "timestamp": "2020-02-20T06:00:00.000Z",
                "coords": {"latitude": 31.8, "longitude": 117.2, "speed": 10, "heading": 45},
                "battery": {"level": 0.5},
            },
        }
    )
    assert (js.device_id, js.fix.speed_kmh, js.fix.battery, js.fix.bearing) == ("p2", 36.0, 50, 45)
    with pytest.raises(ValidationError, match="device id"):
        parse_osmand({"lat": "1", "lon": "2"})
    with pytest.raises(ValidationError, match="not a number"):
        parse_osmand({"id": "x", "lat": "north", "lon": "2"})


def _gpx(points: list[tuple[float, float, datetime]]) -> str:
    pts = "\n".join(
        f'<trkpt lat="{lat}" lon="{lon}"><ele>400</ele>'
        f"<time>{t.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}</time></trkpt>"
        for lat, lon, t in points
    )
    return (
        '<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
        f'<trk><trkseg>{pts}<trkpt lat="31" lon="117"></trkpt></trkseg></trk></gpx>'
    )


def test_gpx_and_csv_imports(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    code = make_convoy("BUS-TR4", n=1)
    now = DEP + timedelta(hours=3)
    pts = [(*_point(code, f / 100), DEP + timedelta(minutes=15 * f)) for f in range(12)]
    gpx = tmp_path / "trip.gpx"
    gpx.write_text(_gpx(pts), encoding="utf-8")
    with session_scope() as s:
        r = import_track_file(s, code, gpx, now=now)
        assert (r.read, r.stored, r.duplicates) == (13, 12, 0)
        assert r.rejected == [(13, "the point has no <time>")]
        state = s.get(TrackState, get_convoy(s, code).id)
        assert state is not None and state.last_fix_at == pts[-1][2]
    with session_scope() as s:
        again = import_track_file(s, code, gpx, now=now)
        assert (again.stored, again.duplicates) == (0, 12)
    # A CSV track in GCJ-02 with Chinese headers is converted to WGS-84 on the way in.
    lat, lon = _point(code, 0.2)
    glat, glon = wgs84_to_gcj02(lat, lon)
    csv_file = tmp_path / "trip.csv"
    csv_file.write_text(
        f"时间,纬度,经度,速度\n2020-02-20 17:00,{glat},{glon},70\n2020-02-20 17:05,bad,1,\n",
        encoding="utf-8",
    )
    with session_scope() as s:
        r = import_track_file(s, code, csv_file, datum="gcj02", now=now)
        assert r.stored == 1 and r.rejected[0][0] == 3
        stored = (
            s.execute(select(Position).where(Position.source == "file:trip.csv")).scalars().one()
        )
        assert stored.lat == pytest.approx(lat, abs=1e-6) and stored.lon == pytest.approx(
            lon, abs=1e-6
        )
        assert stored.at == datetime(2020, 2, 20, 17, 0, tzinfo=SH)
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    with session_scope() as s, pytest.raises(ValidationError, match="lacks the column"):
        import_track_file(s, code, bad, now=now)


def test_catch_up_folds_in_cli_checkin_positions(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-TR5", n=1)
    lat, lon = _point(code, 0.3)
    with session_scope() as s:
        record_checkin(s, code, "position", {"lat": lat, "lon": lon}, at=DEP + timedelta(hours=6))
    with session_scope() as s:
        assert catch_up(s) == 1
        state = s.get(TrackState, get_convoy(s, code).id)
        assert state is not None and state.along_km > 300
        assert catch_up(s) == 0
