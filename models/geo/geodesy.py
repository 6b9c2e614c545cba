"""Geodesy for convoy tracking: datum conversion, distances and corridor checks.

Everything here is pure (no I/O) and cheap enough to run on every position report.

Points are ``(lat, lon)`` tuples in WGS-84 degrees, the datum the project stores. Chinese map
services use two other systems, which are converted at the boundary:

* **GCJ-02** ("Mars coordinates"; Amap/Gaode, Tencent, Google China tiles): WGS-84 plus an
  obfuscating offset of typically 100–700 m inside China. Outside China GCJ-02 *is* WGS-84;
  "inside" is the conventional rectangle used by every public implementation.
* **BD-09** (Baidu): GCJ-02 plus a further Baidu-specific shift.

The forward transforms are the standard published formulas; the inverses are computed
iteratively so that a round trip is exact to well below a metre (not the common one-step
approximation, which errs by up to a few metres).

Polyline helpers (``point_to_polyline_km``, ``along_track_km``, ``interpolate_along``) accept a
plain sequence of points or a prepared :class:`Polyline`; prepare a route once when it is
checked against many positions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from geographiclib.geodesic import Geodesic
from geopy.distance import geodesic

LatLon = tuple[float, float]
"""A point as ``(latitude, longitude)`` in decimal degrees."""

Datum = Literal["wgs84", "gcj02", "bd09"]
"""The coordinate systems met in China: GPS (WGS-84), Amap/Tencent (GCJ-02), Baidu (BD-09)."""

__all__ = [
    "Datum",
    "LatLon",
    "Polyline",
    "along_track_km",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "distance_km",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "interpolate_along",
    "is_in_china",
    "path_length_km",
    "point_to_polyline_km",
    "prepare_polyline",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

# --- GCJ-02 (the published "eviltransform" constants: Krasovsky 1940 ellipsoid) -------------
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
_BD_X_PI = math.pi * 3000.0 / 180.0
_INVERSE_TOLERANCE_DEG = 1e-10  # about 0.01 mm
_INVERSE_MAX_ITERATIONS = 30

# Mean Earth radius (IUGG) for the local equirectangular projection.
_EARTH_RADIUS_KM = 6371.0088
_KM_PER_DEG = math.pi * _EARTH_RADIUS_KM / 180.0

# Long route segments are split so that the local flat projection stays accurate.
_MAX_SEGMENT_KM = 25.0
_WGS84 = Geodesic.WGS84


def is_in_china(lat: float, lon: float) -> bool:
    """Whether GCJ-02 applies at this point (the conventional rectangle of every implementation).

    The rectangle is generous (it covers some neighbouring countries); that is the convention
    the map services themselves follow closely enough for convoy work inside mainland China.
    """
    return 0.8293 <= lat <= 55.8271 and 72.004 <= lon <= 137.8347


def _gcj_delta(lat: float, lon: float) -> LatLon:
    """The GCJ-02 offset ``(dlat, dlon)`` in degrees to add to a WGS-84 point."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = math.sqrt(abs(x))
    six_pi_x = math.sin(6.0 * x * math.pi)
    two_pi_x = math.sin(2.0 * x * math.pi)
    common = (20.0 * six_pi_x + 20.0 * two_pi_x) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat += common
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (
        (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon += common
    dlon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon += (
        (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * math.pi
    magic = 1.0 - _GCJ_EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return dlat, dlon


def wgs84_to_gcj02(lat: float, lon: float) -> LatLon:
    """Convert a WGS-84 point to GCJ-02 (unchanged outside China)."""
    if not is_in_china(lat, lon):
        return lat, lon
    dlat, dlon = _gcj_delta(lat, lon)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat: float, lon: float) -> LatLon:
    """Convert a GCJ-02 point to WGS-84 exactly (iterative inverse, error far below 1 m)."""
    if not is_in_china(lat, lon):
        return lat, lon
    wlat, wlon = lat, lon
    for _ in range(_INVERSE_MAX_ITERATIONS):
        glat, glon = wgs84_to_gcj02(wlat, wlon)
        err_lat, err_lon = glat - lat, glon - lon
        wlat -= err_lat
        wlon -= err_lon
        if abs(err_lat) < _INVERSE_TOLERANCE_DEG and abs(err_lon) < _INVERSE_TOLERANCE_DEG:
            break
    return wlat, wlon


def gcj02_to_bd09(lat: float, lon: float) -> LatLon:
    """Convert a GCJ-02 point to Baidu's BD-09 (the published formula)."""
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _BD_X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _BD_X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def bd09_to_gcj02(lat: float, lon: float) -> LatLon:
    """Convert a BD-09 point to GCJ-02 (published inverse refined iteratively to < 1 mm)."""
    x = lon - 0.0065
    y = lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _BD_X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _BD_X_PI)
    glat, glon = z * math.sin(theta), z * math.cos(theta)
    for _ in range(_INVERSE_MAX_ITERATIONS):
        blat, blon = gcj02_to_bd09(glat, glon)
        err_lat, err_lon = blat - lat, blon - lon
        glat -= err_lat
        glon -= err_lon
        if abs(err_lat) < _INVERSE_TOLERANCE_DEG and abs(err_lon) < _INVERSE_TOLERANCE_DEG:
            break
    return glat, glon


def wgs84_to_bd09(lat: float, lon: float) -> LatLon:
    """Convert a WGS-84 point to BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def bd09_to_wgs84(lat: float, lon: float) -> LatLon:
    """Convert a BD-09 point to WGS-84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))


def to_wgs84(lat: float, lon: float, datum: Datum) -> LatLon:
    """Convert a point given in ``datum`` to WGS-84 (use it where coordinates enter the system)."""
    if datum == "wgs84":
        return lat, lon
    if datum == "gcj02":
        return gcj02_to_wgs84(lat, lon)
    if datum == "bd09":
        return bd09_to_wgs84(lat, lon)
    raise ValueError(f"The datum {datum!r} is not known; use 'wgs84', 'gcj02' or 'bd09'.")


def from_wgs84(lat: float, lon: float, datum: Datum) -> LatLon:
    """Convert a stored WGS-84 point to ``datum`` (for display on GCJ-02 or BD-09 tiles)."""
    if datum == "wgs84":
        return lat, lon
    if datum == "gcj02":
        return wgs84_to_gcj02(lat, lon)
    if datum == "bd09":
        return wgs84_to_bd09(lat, lon)
    raise ValueError(f"The datum {datum!r} is not known; use 'wgs84', 'gcj02' or 'bd09'.")


# --- distances -------------------------------------------------------------------------------


def distance_km(a: LatLon, b: LatLon) -> float:
    """The geodesic (WGS-84 ellipsoid) distance between two points, in kilometres."""
    return float(geodesic(a, b).km)


def _check_point(point: LatLon) -> LatLon:
    lat, lon = float(point[0]), float(point[1])
    if not (-90.0 <= lat <= 90.0) or not (-180.0 <= lon <= 180.0):
        raise ValueError(
            f"The point ({lat}, {lon}) is not a valid (latitude, longitude) pair in degrees."
        )
    return lat, lon


@dataclass(frozen=True, slots=True)
class Polyline:
    """A route prepared for repeated queries (build it with :func:`prepare_polyline`).

    ``points`` are the route's vertices as given; ``vertices`` add geodesic intermediate points
    so that no segment is longer than 25 km; ``cumulative_km[i]`` is the geodesic length of the
    route up to ``vertices[i]``.
    """

    points: tuple[LatLon, ...]
    vertices: tuple[LatLon, ...]
    cumulative_km: tuple[float, ...]
    _bounds: tuple[tuple[float, float, float, float], ...] = field(repr=False)

    @property
    def length_km(self) -> float:
        """The geodesic length of the whole route in kilometres."""
        return self.cumulative_km[-1]


def prepare_polyline(points: Sequence[LatLon] | Polyline) -> Polyline:
    """Prepare a route (at least one point) for fast distance and along-track queries."""
    if isinstance(points, Polyline):
        return points
    if len(points) == 0:
        raise ValueError("A route needs at least one point; this one has none.")
    given = tuple(_check_point(p) for p in points)
    return _prepare(given)


@lru_cache(maxsize=64)
def _prepare(given: tuple[LatLon, ...]) -> Polyline:
    vertices: list[LatLon] = [given[0]]
    cumulative: list[float] = [0.0]
    for (lat1, lon1), (lat2, lon2) in itertools.pairwise(given):
        line = _WGS84.InverseLine(lat1, lon1, lat2, lon2)
        start_km = cumulative[-1]
        seg_km = line.s13 / 1000.0
        pieces = max(1, math.ceil(seg_km / _MAX_SEGMENT_KM))
        for k in range(1, pieces):
            pos = line.Position(line.s13 * k / pieces)
            vertices.append((pos["lat2"], pos["lon2"]))
            cumulative.append(start_km + seg_km * k / pieces)
        vertices.append((lat2, lon2))
        cumulative.append(start_km + seg_km)
    bounds = tuple(_segment_bounds(a, b) for a, b in itertools.pairwise(vertices))
    return Polyline(given, tuple(vertices), tuple(cumulative), bounds)


def _segment_bounds(a: LatLon, b: LatLon) -> tuple[float, float, float, float]:
    """A segment's bounding box (min/max lat, min/max lon); whole-globe if it wraps at 180°."""
    if abs(a[1] - b[1]) > 180.0:
        return -90.0, 90.0, -180.0, 180.0
    return min(a[0], b[0]), max(a[0], b[0]), min(a[1], b[1]), max(a[1], b[1])


def path_length_km(points: Sequence[LatLon] | Polyline) -> float:
    """The geodesic length of a path through ``points`` in kilometres (0 for a single point)."""
    if isinstance(points, Polyline):
        return points.length_km
    total = 0.0
    for a, b in itertools.pairwise(points):
        total += _WGS84.Inverse(a[0], a[1], b[0], b[1], Geodesic.DISTANCE)["s12"]
    return total / 1000.0


def interpolate_along(points: Sequence[LatLon] | Polyline, fraction: float) -> LatLon:
    """The point at ``fraction`` (0 = start, 1 = end) of the path's length, along geodesics.

    Fractions a hair outside ``[0, 1]`` (rounding in an ETA computation) are clamped; anything
    further out, or NaN, is an error.
    """
    if math.isnan(fraction) or not (-1e-9 <= fraction <= 1.0 + 1e-9):
        raise ValueError(
            f"The fraction {fraction} is outside 0–1; give a share of the path length."
        )
    fraction = min(1.0, max(0.0, fraction))
    route = prepare_polyline(points)
    if len(route.vertices) == 1 or route.length_km == 0.0:
        return route.vertices[0]
    target = fraction * route.length_km
    cum = route.cumulative_km
    lo, hi = 0, len(cum) - 1
    while hi - lo > 1:  # binary search for the segment that holds the target distance
        mid = (lo + hi) // 2
        if cum[mid] <= target:
            lo = mid
        else:
            hi = mid
    seg_len = cum[hi] - cum[lo]
    if seg_len <= 0.0:
        return route.vertices[lo]
    (lat1, lon1), (lat2, lon2) = route.vertices[lo], route.vertices[hi]
    line = _WGS84.InverseLine(lat1, lon1, lat2, lon2)
    pos = line.Position(line.s13 * (target - cum[lo]) / seg_len)
    return pos["lat2"], pos["lon2"]


def _closest(point: LatLon, route: Polyline) -> tuple[float, int, float]:
    """Distance (km) from ``point`` to the route, the nearest segment's index and position 0–1.

    Each segment is projected onto a flat plane centred on the point (equirectangular), which is
    accurate to a fraction of a percent for segments of at most 25 km.
    """
    plat, plon = _check_point(point)
    verts = route.vertices
    if len(verts) == 1:
        lat, lon = verts[0]
        dx = _wrap(lon - plon) * math.cos(math.radians(plat)) * _KM_PER_DEG
        return math.hypot(dx, (lat - plat) * _KM_PER_DEG), 0, 0.0
    kx = math.cos(math.radians(plat)) * _KM_PER_DEG
    ky = _KM_PER_DEG
    best_d2 = math.inf
    best_i = 0
    best_t = 0.0
    for i, (min_lat, max_lat, min_lon, max_lon) in enumerate(route._bounds):
        # Cheap lower bound from the segment's bounding box: skip segments that cannot win.
        gap_y = min_lat - plat if plat < min_lat else plat - max_lat if plat > max_lat else 0.0
        gap_x = min_lon - plon if plon < min_lon else plon - max_lon if plon > max_lon else 0.0
        if gap_y * gap_y * ky * ky + gap_x * gap_x * kx * kx > best_d2:
            continue
        lat1, lon1 = verts[i]
        lat2, lon2 = verts[i + 1]
        ax = _wrap(lon1 - plon) * kx
        ay = (lat1 - plat) * ky
        bx = _wrap(lon2 - plon) * kx
        by = (lat2 - plat) * ky
        dx, dy = bx - ax, by - ay
        seg2 = dx * dx + dy * dy
        t = 0.0 if seg2 == 0.0 else min(1.0, max(0.0, -(ax * dx + ay * dy) / seg2))
        cx, cy = ax + t * dx, ay + t * dy
        d2 = cx * cx + cy * cy
        if d2 < best_d2:
            best_d2, best_i, best_t = d2, i, t
    return math.sqrt(best_d2), best_i, best_t


def _wrap(dlon: float) -> float:
    """A longitude difference folded into [-180, 180) degrees."""
    if -180.0 <= dlon < 180.0:
        return dlon
    return (dlon + 180.0) % 360.0 - 180.0


def point_to_polyline_km(point: LatLon, polyline: Sequence[LatLon] | Polyline) -> float:
    """The shortest distance in kilometres from ``point`` to the route (for corridor checks)."""
    return _closest(point, prepare_polyline(polyline))[0]


def along_track_km(point: LatLon, polyline: Sequence[LatLon] | Polyline) -> float:
    """The distance in kilometres along the route to the point's closest projection onto it.

    The remaining distance is ``path_length_km(route) - along_track_km(point, route)``. Where a
    route passes the same place twice, the earlier pass wins.
    """
    route = prepare_polyline(polyline)
    _, i, t = _closest(point, route)
    if len(route.vertices) == 1:
        return 0.0
    cum = route.cumulative_km
    return cum[i] + t * (cum[i + 1] - cum[i])
