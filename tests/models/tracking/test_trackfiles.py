"""Track files: GPX and CSV imports (idempotent, bad points reported, GCJ-02 converted)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from config import Settings
from models.convoy.store import get_convoy
from models.convoy.tables import Position
from models.db import session_scope
from models.errors import ValidationError
from models.geo.datums import wgs84_to_gcj02
from models.tracking.tables import TrackState
from models.tracking.trackfiles import import_track_file
from tests.conftest import SHANGHAI as SH
from tests.models.tracking.conftest import DEP, point_along


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
    pts = [(*point_along(code, f / 100), DEP + timedelta(minutes=15 * f)) for f in range(12)]
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
    lat, lon = point_along(code, 0.2)
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
