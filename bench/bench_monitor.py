"""Delay monitor benchmarks (issue 4).

* ``monitor.tick_1k``: one monitor check over 1,000 active convoys with 100 positions each,
  over a bare SQL query (sqlite3) fetching the latest position of every convoy from the same
  database. Target ≤ 5.
* ``monitor.scaling_10k_over_1k``: the check's time at 10,000 convoys over its time at 1,000.
  Target ≤ 12 (linear).

The data are on-time convoys reporting every 3 minutes along their routes for 5 hours; the
track states are built by the monitor itself (its first check folds every position in).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import Result, best_of, ratio

ROUTES = [
    ((34.955, 109.586), [(31.82, 117.23)], (29.477, 121.869)),
    ((30.67, 104.06), [(30.59, 114.30)], (29.87, 121.54)),
    ((26.65, 106.63), [(28.23, 112.94)], (29.30, 121.42)),
    ((36.06, 103.83), [(34.26, 108.94), (32.06, 118.80)], (29.86, 121.62)),
    ((25.04, 102.71), [(26.57, 106.71), (28.20, 113.00)], (29.65, 121.44)),
]
POSITIONS = 100
STEP = timedelta(minutes=3)
_made: list[Path] = []
BASELINE_SQL = """
SELECT p.convoy_id, p.at, p.lat, p.lon, p.speed_kmh
FROM position p
JOIN (SELECT convoy_id, MAX(at) AS at FROM position GROUP BY convoy_id) m
  ON p.convoy_id = m.convoy_id AND p.at = m.at
"""


def _build(n: int, now: datetime) -> tuple[Any, Path]:
    """A fresh database with ``n`` convoys under way; returns (settings, database file)."""
    from sqlalchemy import insert

    from config import reset_settings
    from models.convoy.tables import Convoy, Position
    from models.db import dispose_engines, session_scope
    from models.geo.geodesy import interpolate_along
    from models.tracking.eta import route_of

    var = Path(tempfile.mkdtemp(prefix=f"convoy-bench-{n}-"))
    _made.append(var)
    os.environ["CONVOY_VAR_DIR"] = str(var)
    dispose_engines()
    settings = reset_settings()
    start = now - STEP * (POSITIONS - 1)
    # Each route's positions: 80 km/h travelled along the route (road factor 1.25).
    tracks = []
    for origin, wps, dest in ROUTES:
        route = route_of([origin, *wps, dest])
        pts = []
        for k in range(POSITIONS):
            km = (k * STEP).total_seconds() / 3600 * 80 / 1.25
            pts.append(interpolate_along(route, min(1.0, km / route.length_km)))
        tracks.append(pts)
    with session_scope(settings) as s:
        convoys = []
        for i in range(n):
            origin, wps, dest = ROUTES[i % len(ROUTES)]
            convoys.append(
                {
                    "code": f"BENCH-{i:05d}", "campaign_id": None, "mode": "bus", "vehicle": "",
                    "origin_name": "o", "origin_lat": origin[0], "origin_lon": origin[1],
                    "origin_adcode": "", "destination_name": "d", "destination_lat": dest[0],
                    "destination_lon": dest[1], "destination_adcode": "",
                    "waypoints": [{"name": "w", "lat": a, "lon": b} for a, b in wps],
                    "planned_departure": start, "planned_arrival": start + timedelta(hours=30),
                    "actual_departure": start, "actual_arrival": None, "stage": "in_transit",
                    "stage_changed_at": start, "notes": "",
                }
            )  # fmt: skip
        s.execute(insert(Convoy), convoys)
    with session_scope(settings) as s:
        rows: list[dict[str, Any]] = []
        for cid in range(1, n + 1):
            pts = tracks[(cid - 1) % len(ROUTES)]
            for k, (lat, lon) in enumerate(pts):
                rows.append(
                    {"convoy_id": cid, "at": start + k * STEP, "lat": lat, "lon": lon,
                     "speed_kmh": 80.0, "source": "bench", "recorded_at": now}
                )  # fmt: skip
            if len(rows) >= 50_000:
                s.execute(insert(Position), rows)
                rows = []
        if rows:
            s.execute(insert(Position), rows)
    return settings, var / "convoy.db"


def _measure(n: int, now: datetime) -> tuple[float, float, dict[str, Any]]:
    from models.db import session_scope
    from models.tracking.alerts.checks import run_checks

    t0 = time.perf_counter()
    settings, db = _build(n, now)
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    with session_scope(settings) as s:  # the first check folds every position into track states
        first = run_checks(s, now, settings)
    folded = time.perf_counter() - t0
    reports = []

    def check() -> None:
        with session_scope(settings) as s:
            reports.append(run_checks(s, now, settings))

    ours = best_of(check, 3)

    def bare() -> None:
        con = sqlite3.connect(db)
        try:
            rows = con.execute(BASELINE_SQL).fetchall()
        finally:
            con.close()
        assert len(rows) == n

    base = best_of(bare, 3)
    alerts = sum(len(r.changes) for r in [first, *reports])
    detail = {
        "convoys": n,
        "positions": n * POSITIONS,
        "build_s": round(built, 1),
        "first_check_s": round(folded, 2),
        "alerts": alerts,
    }
    return ours, base, detail


def run() -> list[Result]:
    from config import reset_settings
    from models.db import dispose_engines

    now = datetime.now(UTC).replace(microsecond=0)
    saved = os.environ.get("CONVOY_VAR_DIR")
    try:
        t1k, base1k, d1k = _measure(1_000, now)
        t10k, _base10k, d10k = _measure(10_000, now)
    finally:
        dispose_engines()
        for path in _made:
            shutil.rmtree(path, ignore_errors=True)
        _made.clear()
        if saved is None:
            os.environ.pop("CONVOY_VAR_DIR", None)
        else:
            os.environ["CONVOY_VAR_DIR"] = saved
        reset_settings()
    scaling = t10k / t1k
    return [
        ratio(
            "monitor.tick_1k", t1k, base1k, 5,
            "sqlite3 query of the latest position per convoy (1,000 convoys × 100 positions)",
            **d1k,
        ),
        Result(
            "monitor.scaling_10k_over_1k", round(scaling, 3), "ratio", 12,
            "the same check at 1,000 convoys", scaling <= 12,
            {"tick_1k_s": round(t1k, 4), "tick_10k_s": round(t10k, 4), **d10k},
        ),
    ]  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    for r in run():
        print(r.as_dict())
