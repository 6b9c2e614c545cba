"""Datum conversion between WGS-84 (stored), GCJ-02 (Amap/Tencent) and BD-09 (Baidu).

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
"""

from __future__ import annotations

import math
from typing import Literal

LatLon = tuple[float, float]
"""A point as ``(latitude, longitude)`` in decimal degrees."""

Datum = Literal["wgs84", "gcj02", "bd09"]
"""The coordinate systems met in China: GPS (WGS-84), Amap/Tencent (GCJ-02), Baidu (BD-09)."""

__all__ = [
    "Datum",
    "LatLon",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "is_in_china",
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
