"""Geodesy for convoy tracking: distances and corridor checks on the WGS-84 ellipsoid.

Everything here is pure (no I/O) and cheap enough to run on every position report. Points are
``(lat, lon)`` tuples in WGS-84 degrees (:data:`models.geo.datums.LatLon`); converting from and
to GCJ-02 or BD-09 is :mod:`models.geo.datums`.

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

from geographiclib.geodesic import Geodesic
from geopy.distance import geodesic

from models.geo.datums import LatLon

__all__ = [
    "Polyline",
    "along_track_km",
    "distance_km",
    "interpolate_along",
    "locate_on_route",
    "path_length_km",
    "point_to_polyline_km",
    "prepare_polyline",
    "sphere_distance_km",
]

# Mean Earth radius (IUGG) for the local equirectangular projection.
_EARTH_RADIUS_KM = 6371.0088
_KM_PER_DEG = math.pi * _EARTH_RADIUS_KM / 180.0

# Long route segments are split so that the local flat projection stays accurate.
_MAX_SEGMENT_KM = 25.0
_WGS84 = Geodesic.WGS84


# --- distances -------------------------------------------------------------------------------


def distance_km(a: LatLon, b: LatLon) -> float:
    """The geodesic (WGS-84 ellipsoid) distance between two points, in kilometres."""
    return float(geodesic(a, b).km)


def sphere_distance_km(a: LatLon, b: LatLon) -> float:
    """The great-circle (haversine) distance on the mean-radius sphere, in kilometres.

    Within 0.6 % of :func:`distance_km` (the ellipsoid's flattening) and a hundred times
    cheaper: for radius tests run on many fixes (has a convoy moved more than its stop
    radius?), not for reported distances.
    """
    lat1, lon1 = math.radians(a[0]), math.radians(a[1])
    lat2, lon2 = math.radians(b[0]), math.radians(b[1])
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


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
    return locate_on_route(point, polyline)[1]


def locate_on_route(point: LatLon, polyline: Sequence[LatLon] | Polyline) -> tuple[float, float]:
    """``(point_to_polyline_km, along_track_km)`` of the point, from one projection."""
    route = prepare_polyline(polyline)
    off, i, t = _closest(point, route)
    if len(route.vertices) == 1:
        return off, 0.0
    cum = route.cumulative_km
    return off, cum[i] + t * (cum[i + 1] - cum[i])
