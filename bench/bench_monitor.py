"""Delay monitor benchmarks (issues 4 and 14), in steady state.

The data: 1,000 (or 10,000) buses under way, each with 100 positions every 3 minutes along its
route; one in ten runs late against its plan (its planned arrival is 6 hours earlier), so its
``late_arrival`` alert opens at the first check and is seen again (deduplicated, not reopened)
at every later one. A first check folds every position into the track states (not timed).
Then, ``TICKS`` times: every convoy reports one new position 3 minutes further along (inserted,
not timed) and the clock moves 3 minutes on; the time of the check that follows is what counts.

* ``monitor.tick_1k``: the mean time of one such check over 1,000 convoys — ours is
  ``models.tracking.alerts.checks.checking``, as the monitor's tick runs it (fold the new
  positions into the track states: read each convoy's latest positions, compute its stop, speed
  made good, route progress and ETA, write the states with one executemany, in one
  transaction; then, in a second, ``run_checks``: detect every condition of every active
  convoy; refresh, open, escalate or resolve alerts) — over the
  baseline doing the same reads with sqlite3 and nothing else: the newest position id per
  convoy since the last check, each convoy's latest ``_STOP_WINDOW_ROWS`` positions, the rows
  of those convoys, every active convoy joined with its track state, and the open alerts.
  Target ≤ 5.
* ``monitor.scaling_10k_over_1k``: the same steady-state check at 10,000 convoys over 1,000.
  Target ≤ 12 (linear is 10).
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

from bench.common import Result, ratio

ROUTES = [
    ((34.955, 109.586), [(31.82, 117.23)], (29.477, 121.869)),
    ((30.67, 104.06), [(30.59, 114.30)], (29.87, 121.54)),
    ((26.65, 106.63), [(28.23, 112.94)], (29.30, 121.42)),
    ((36.06, 103.83), [(34.26, 108.94), (32.06, 118.80)], (29.86, 121.62)),
    ((25.04, 102.71), [(26.57, 106.71), (28.20, 113.00)], (29.65, 121.44)),
]
POSITIONS = 100
STEP = timedelta(minutes=3)
TICKS = 3
LATE_EVERY = 10  # one convoy in ten runs late against its plan
_made: list[Path] = []


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
                    "planned_departure": start,
                    "planned_arrival": start + timedelta(hours=40 if i % LATE_EVERY else 6),
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


def _tracks() -> list[Any]:
    from models.tracking.eta import route_of

    return [route_of([o, *w, d]) for o, w, d in ROUTES]


def _add_positions(db: Path, n: int, k: int, start: datetime, routes: list[Any]) -> None:
    """Position number ``k`` of every convoy (3 minutes after the one before), bare inserts."""
    from models.geo.geodesy import interpolate_along

    at = start + k * STEP
    km = (k * STEP).total_seconds() / 3600 * 80 / 1.25
    pts = [interpolate_along(r, min(1.0, km / r.length_km)) for r in routes]
    stamp = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    con = sqlite3.connect(db)
    try:
        con.executemany(
            "INSERT INTO position (convoy_id, at, lat, lon, speed_kmh, source, recorded_at) "
            "VALUES (?, ?, ?, ?, 80.0, 'bench', ?)",
            [(cid, stamp, *pts[(cid - 1) % len(routes)], stamp) for cid in range(1, n + 1)],
        )
        con.commit()
    finally:
        con.close()


def _bare_reads(db: Path, since: int) -> int:
    """The reads of one check, with sqlite3 and nothing else (see the module doc)."""
    from models.tracking.ingest import _STOP_WINDOW_ROWS

    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT convoy_id, MAX(id) FROM position WHERE id > ? GROUP BY convoy_id", (since,)
        ).fetchall()
        ids = [cid for cid, _ in rows]
        for cid in ids:
            con.execute(
                "SELECT id, at, lat, lon, speed_kmh, source FROM position WHERE convoy_id = ? "
                "ORDER BY at DESC, id DESC LIMIT ?",
                (cid, _STOP_WINDOW_ROWS),
            ).fetchall()
        con.execute(
            f"SELECT * FROM convoy WHERE id IN ({','.join('?' * len(ids))})", ids
        ).fetchall()
        con.execute(
            "SELECT c.id, c.code, c.mode, c.stage, c.planned_departure, c.planned_arrival, "
            "c.actual_departure, t.* FROM convoy c LEFT JOIN track_state t ON t.convoy_id = c.id "
            "WHERE c.stage IN ('planned', 'mustering', 'verified', 'screened', 'departed', "
            "'in_transit') ORDER BY c.id"
        ).fetchall()
        con.execute("SELECT * FROM alert WHERE state != 'resolved' ORDER BY id").fetchall()
        return len(ids)
    finally:
        con.close()


def _measure(n: int, now: datetime) -> tuple[float, float, dict[str, Any]]:
    from models.tracking.alerts.checks import checking

    t0 = time.perf_counter()
    settings, db = _build(n, now)
    built = time.perf_counter() - t0
    start = now - STEP * (POSITIONS - 1)
    routes = _tracks()
    t0 = time.perf_counter()
    with checking(now, settings) as (_, first):  # folds every position into track states
        pass
    folded = time.perf_counter() - t0
    opened = first.count("opened")
    ours = base = 0.0
    seen = 0
    for k in range(TICKS):
        step = POSITIONS + k
        con = sqlite3.connect(db)
        since = con.execute("SELECT COALESCE(MAX(id), 0) FROM position").fetchone()[0]
        con.close()
        _add_positions(db, n, step, start, routes)
        clock = start + step * STEP
        t0 = time.perf_counter()
        with checking(clock, settings) as (_, report):
            pass
        ours += time.perf_counter() - t0
        assert report.refreshed == n, report.refreshed  # every convoy's new position folded
        seen += report.count("opened")
        t0 = time.perf_counter()
        assert _bare_reads(db, since) == n
        base += time.perf_counter() - t0
    con = sqlite3.connect(db)
    open_alerts = con.execute("SELECT COUNT(*) FROM alert WHERE state != 'resolved'").fetchone()[0]
    con.close()
    detail = {
        "convoys": n,
        "positions": n * (POSITIONS + TICKS),
        "ticks": TICKS,
        "build_s": round(built, 1),
        "first_check_s": round(folded, 2),
        "alerts_opened_first": opened,
        "alerts_opened_later": seen,
        "alerts_open": open_alerts,
    }
    return ours / TICKS, base / TICKS, detail


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
            "sqlite3 doing the same reads as one check, steady state (1,000 convoys, new "
            "positions between checks, one in ten late)",
            **d1k,
        ),
        Result(
            "monitor.scaling_10k_over_1k", round(scaling, 3), "ratio", 12,
            "the same steady-state check at 1,000 convoys", scaling <= 12,
            {"tick_1k_s": round(t1k, 4), "tick_10k_s": round(t10k, 4), **d10k},
        ),
    ]  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    for r in run():
        print(r.as_dict())
