"""Datum conversions of models.geo.datums: WGS-84, GCJ-02, BD-09 (no network, no I/O)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.geo.datums import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    is_in_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from models.geo.geodesy import distance_km

# China's bounding box (the GCJ-02 rectangle, trimmed to land where people live and travel).
china_lat = st.floats(min_value=18.0, max_value=53.5, allow_nan=False)
china_lon = st.floats(min_value=73.5, max_value=135.0, allow_nan=False)
# Eastern and central China, where every place of the model operation lies.
east_lat = st.floats(min_value=20.0, max_value=45.0, allow_nan=False)
east_lon = st.floats(min_value=100.0, max_value=125.0, allow_nan=False)

NINGBO_STATION = (29.8627, 121.5411)
XIANGSHAN = (29.4794, 121.8653)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return distance_km(a, b) * 1000.0


@settings(max_examples=500, deadline=None)
@given(china_lat, china_lon)
def test_wgs_gcj_round_trip_is_below_one_metre(lat: float, lon: float) -> None:
    gcj = wgs84_to_gcj02(lat, lon)
    assert metres((lat, lon), gcj02_to_wgs84(*gcj)) < 1.0


@settings(max_examples=300, deadline=None)
@given(china_lat, china_lon)
def test_gcj_wgs_round_trip_is_below_one_metre(lat: float, lon: float) -> None:
    wgs = gcj02_to_wgs84(lat, lon)
    assert metres((lat, lon), wgs84_to_gcj02(*wgs)) < 1.0


@settings(max_examples=300, deadline=None)
@given(china_lat, china_lon)
def test_wgs_bd_round_trip_is_below_one_metre(lat: float, lon: float) -> None:
    assert metres((lat, lon), bd09_to_wgs84(*wgs84_to_bd09(lat, lon))) < 1.0
    assert metres((lat, lon), bd09_to_gcj02(*gcj02_to_bd09(lat, lon))) < 1.0


@settings(max_examples=300, deadline=None)
@given(east_lat, east_lon)
def test_gcj_offset_is_100_to_700_m_in_eastern_and_central_china(lat: float, lon: float) -> None:
    offset = metres((lat, lon), wgs84_to_gcj02(lat, lon))
    assert 100.0 <= offset <= 700.0


@settings(max_examples=300, deadline=None)
@given(china_lat, china_lon)
def test_gcj_offset_never_exceeds_700_m_in_china(lat: float, lon: float) -> None:
    # In parts of Qinghai and Tibet the offset shrinks to a few tens of metres.
    assert 0.0 < metres((lat, lon), wgs84_to_gcj02(lat, lon)) <= 700.0


@pytest.mark.parametrize(
    "point",
    [(48.8566, 2.3522), (35.6762, 139.6503), (-33.87, 151.21), (40.71, -74.0), (0.5, 100.0)],
)
def test_gcj02_is_wgs84_outside_china(point: tuple[float, float]) -> None:
    assert not is_in_china(*point)
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point


def test_known_gcj02_offset_at_ningbo_station() -> None:
    # The published algorithm moves Ningbo about 0.0045° east and 0.003° south.
    glat, glon = wgs84_to_gcj02(*NINGBO_STATION)
    assert glon - NINGBO_STATION[1] == pytest.approx(0.0044, abs=0.0008)
    assert glat - NINGBO_STATION[0] == pytest.approx(-0.0027, abs=0.0008)


def test_bd09_shift_from_gcj02_is_the_published_one() -> None:
    # BD-09 is GCJ-02 shifted by roughly +0.006° latitude and +0.0065° longitude.
    glat, glon = wgs84_to_gcj02(*NINGBO_STATION)
    blat, blon = gcj02_to_bd09(glat, glon)
    assert blat - glat == pytest.approx(0.006, abs=0.002)
    assert blon - glon == pytest.approx(0.0065, abs=0.002)


def test_to_and_from_wgs84_dispatch_on_the_datum() -> None:
    for datum in ("wgs84", "gcj02", "bd09"):
        shown = from_wgs84(*XIANGSHAN, datum)  # type: ignore[arg-type]
        assert metres(XIANGSHAN, to_wgs84(*shown, datum)) < 1.0  # type: ignore[arg-type]
    assert from_wgs84(*XIANGSHAN, "gcj02") == wgs84_to_gcj02(*XIANGSHAN)
    with pytest.raises(ValueError, match="datum"):
        to_wgs84(*XIANGSHAN, "utm")  # type: ignore[arg-type]
