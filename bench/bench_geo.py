"""Geography benchmarks.

* ``geo.gazetteer_load``: building the offline gazetteer from the embedded CSV files
  (``config/data/gazetteer.csv``, 3,261 divisions, and ``places.csv``, 42 stations and
  airports), uncached: ``models.geo.gazetteer`` reads both with ``csv.DictReader``, makes a
  ``Place`` of every row, checks that each curated place lies in a known division and indexes
  every name, short name, alias and adcode for lookup. The baseline reads the same two files
  with ``csv.reader`` into lists of rows (no objects, no checks, no index). Best of 5 each, in
  the same run. Target ratio 20: the gazetteer is loaded once per process, and a load of
  about 0.1 s is acceptable where ``csv.reader`` takes 5–10 ms.
* ``geo.corridor_dense_route``: the corridor check the monitor runs on every position, on a
  dense route (1,000 vertices from 蒲城 to 象山, prepared once with ``prepare_polyline``): 100
  times ``point_to_polyline_km`` and ``along_track_km`` for a point off the route (our side:
  each call finds the nearest segment with the bounding-box pruning of
  ``models.geo.geodesy``, so the work is done twice per position). The baseline does the same
  arithmetic the textbook way: one plain loop over every segment of the same prepared
  vertices, projecting the point onto each (equirectangular, no pruning) and keeping the
  nearest distance and its along-track position, 100 times. Best of 5 each. Target ratio 2:
  two calls per position may cost up to two full scans (the pruning usually makes it less).
  Before this was a benchmark a test asserted "under 10 ms per check".
* ``geo.datum_conversions``: 2,000 conversions GCJ-02 → WGS-84 of a point in Ningbo with
  ``models.geo.datums.gcj02_to_wgs84`` (the exact inverse: forward transform repeated until
  the round trip agrees to 1e-10°). The baseline converts the same point 2,000 times with the
  common one-step approximation (one forward transform, ``wgs = 2·gcj − forward(gcj)``, a few
  metres off). Best of 5 each. Target ratio 6: the exact inverse converges in three or four
  forward transforms (plus their range checks). Before this was a benchmark a test asserted
  "under 200 µs per conversion".
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from bench.common import Result, best_of, ratio

_PUCHENG = (34.9566, 109.5814)
_XIANGSHAN = (29.4794, 121.8653)
_OFF_ROUTE = (32.0, 115.0)
_KM_PER_DEG = math.pi * 6371.0088 / 180.0
_NINGBO_GCJ = (29.86, 121.54)


def _read_rows(paths: tuple[Path, ...]) -> int:
    rows = 0
    for path in paths:
        with open(path, encoding="utf-8", newline="") as fh:
            rows += len(list(csv.reader(fh)))
    return rows


def _gazetteer() -> Result:
    from config.settings import DATA_DIR
    from models.geo import gazetteer

    files = (DATA_DIR / "gazetteer.csv", DATA_DIR / "places.csv")
    build = gazetteer._load.__wrapped__  # the loader without its per-process cache

    def ours() -> None:
        build(str(files[0]), str(files[1]))

    def base() -> None:
        _read_rows(files)

    ours()  # warm the file cache and the imports for both sides
    base()
    ours_s = best_of(ours, 5)
    base_s = best_of(base, 5)
    return ratio(
        "geo.gazetteer_load",
        ours_s,
        base_s,
        20,
        "csv.reader over the same two files into lists of rows (no objects, no index)",
        rows=_read_rows(files) - len(files),  # without the header lines
    )


def _plain_nearest(point: tuple[float, float], vertices: tuple[tuple[float, float], ...],
                   cumulative: tuple[float, ...]) -> tuple[float, float]:  # fmt: skip
    """Distance to the nearest segment and the along-track km there: one plain full scan."""
    plat, plon = point
    kx = math.cos(math.radians(plat)) * _KM_PER_DEG
    best_d2, best_km = math.inf, 0.0
    for i in range(len(vertices) - 1):
        (lat1, lon1), (lat2, lon2) = vertices[i], vertices[i + 1]
        ax, ay = (lon1 - plon) * kx, (lat1 - plat) * _KM_PER_DEG
        dx, dy = (lon2 - lon1) * kx, (lat2 - lat1) * _KM_PER_DEG
        seg2 = dx * dx + dy * dy
        t = 0.0 if seg2 == 0.0 else min(1.0, max(0.0, -(ax * dx + ay * dy) / seg2))
        cx, cy = ax + t * dx, ay + t * dy
        d2 = cx * cx + cy * cy
        if d2 < best_d2:
            best_d2 = d2
            best_km = cumulative[i] + t * (cumulative[i + 1] - cumulative[i])
    return math.sqrt(best_d2), best_km


def _corridor() -> Result:
    from models.geo.geodesy import (
        along_track_km,
        interpolate_along,
        point_to_polyline_km,
        prepare_polyline,
    )

    route = prepare_polyline(
        [interpolate_along([_PUCHENG, _XIANGSHAN], i / 999) for i in range(1000)]
    )
    vertices, cumulative = route.vertices, route.cumulative_km

    def ours() -> None:
        for _ in range(100):
            point_to_polyline_km(_OFF_ROUTE, route)
            along_track_km(_OFF_ROUTE, route)

    def base() -> None:
        for _ in range(100):
            _plain_nearest(_OFF_ROUTE, vertices, cumulative)

    ours()
    base()
    ours_s = best_of(ours, 5)
    base_s = best_of(base, 5)
    plain_km, plain_along = _plain_nearest(_OFF_ROUTE, vertices, cumulative)
    return ratio(
        "geo.corridor_dense_route",
        ours_s,
        base_s,
        2,
        "one plain scan of every segment per position (distance and along-track together)",
        vertices=len(vertices),
        checks=100,
        ms_per_check=round(ours_s / 100 * 1000, 3),
        same_answer=math.isclose(point_to_polyline_km(_OFF_ROUTE, route), plain_km, rel_tol=1e-6)
        and math.isclose(along_track_km(_OFF_ROUTE, route), plain_along, rel_tol=1e-6),
    )


def _one_step_inverse(lat: float, lon: float) -> tuple[float, float]:
    from models.geo.datums import wgs84_to_gcj02

    glat, glon = wgs84_to_gcj02(lat, lon)
    return 2 * lat - glat, 2 * lon - glon


def _datums() -> Result:
    from models.geo.datums import gcj02_to_wgs84

    def ours() -> None:
        for _ in range(2000):
            gcj02_to_wgs84(*_NINGBO_GCJ)

    def base() -> None:
        for _ in range(2000):
            _one_step_inverse(*_NINGBO_GCJ)

    ours()
    base()
    ours_s = best_of(ours, 5)
    base_s = best_of(base, 5)
    return ratio(
        "geo.datum_conversions",
        ours_s,
        base_s,
        6,
        "the one-step approximate inverse (one forward transform) of the same point, as often",
        conversions=2000,
        us_per_conversion=round(ours_s / 2000 * 1e6, 2),
    )


def run() -> list[Result]:
    return [_gazetteer(), _corridor(), _datums()]


if __name__ == "__main__":  # pragma: no cover
    for r in run():
        print(r.as_dict())
