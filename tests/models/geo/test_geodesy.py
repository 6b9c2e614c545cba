"""Distances and corridor geometry of models.geo.geodesy (no network, no I/O)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.geo.geodesy import (
    Polyline,
    along_track_km,
    distance_km,
    interpolate_along,
    locate_on_route,
    path_length_km,
    point_to_polyline_km,
    prepare_polyline,
    sphere_distance_km,
)

PUCHENG = (34.9566, 109.5814)
XIANGSHAN = (29.4794, 121.8653)
ZHENGZHOU = (34.7457, 113.6583)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return distance_km(a, b) * 1000.0


# --- distances and polylines -----------------------------------------------------------------


def test_distance_km_is_geodesic() -> None:
    # One degree of latitude at the equator is 110.574 km on the WGS-84 ellipsoid.
    assert distance_km((0.0, 0.0), (1.0, 0.0)) == pytest.approx(110.574, abs=0.01)
    # Within half a percent of the spherical (haversine) distance, which is about 1,306 km.
    lat1, lon1, lat2, lon2 = map(math.radians, (*PUCHENG, *XIANGSHAN))
    hav = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    spherical = 2 * 6371.0088 * math.asin(math.sqrt(hav))
    assert distance_km(PUCHENG, XIANGSHAN) == pytest.approx(spherical, rel=0.005)
    assert distance_km(XIANGSHAN, XIANGSHAN) == 0.0


def test_path_length_sums_the_legs() -> None:
    route = [PUCHENG, ZHENGZHOU, XIANGSHAN]
    expected = distance_km(PUCHENG, ZHENGZHOU) + distance_km(ZHENGZHOU, XIANGSHAN)
    assert path_length_km(route) == pytest.approx(expected, rel=1e-9)
    assert path_length_km(prepare_polyline(route)) == pytest.approx(expected, rel=1e-9)
    assert path_length_km([PUCHENG]) == 0.0
    assert path_length_km([]) == 0.0


def test_interpolate_along_hits_the_ends_and_the_middle() -> None:
    route = [PUCHENG, ZHENGZHOU, XIANGSHAN]
    assert metres(interpolate_along(route, 0.0), PUCHENG) < 1.0
    assert metres(interpolate_along(route, 1.0), XIANGSHAN) < 1.0
    first_leg = distance_km(PUCHENG, ZHENGZHOU) / path_length_km(route)
    assert metres(interpolate_along(route, first_leg), ZHENGZHOU) < 1.0
    middle = interpolate_along(route, 0.5)
    assert along_track_km(middle, route) == pytest.approx(path_length_km(route) / 2, abs=0.5)
    assert point_to_polyline_km(middle, route) < 0.05


def test_interpolate_along_rejects_fractions_outside_zero_to_one() -> None:
    assert interpolate_along([PUCHENG, XIANGSHAN], 1.0 + 1e-12) == pytest.approx(XIANGSHAN)
    for bad in (-0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match="fraction"):
            interpolate_along([PUCHENG, XIANGSHAN], bad)


def test_interpolate_along_a_single_point_is_that_point() -> None:
    assert interpolate_along([XIANGSHAN], 0.7) == XIANGSHAN


def test_point_to_polyline_on_off_and_beyond_the_route() -> None:
    # A north–south segment along 121.5°E from 29.5°N to 30.0°N.
    route = [(29.5, 121.5), (30.0, 121.5)]
    assert point_to_polyline_km((29.75, 121.5), route) == pytest.approx(0.0, abs=1e-6)
    # 0.1° of longitude at 29.75°N is about 9.66 km.
    assert point_to_polyline_km((29.75, 121.6), route) == pytest.approx(9.66, rel=0.01)
    # Beyond the end the distance is to the end point.
    beyond = (30.1, 121.5)
    assert point_to_polyline_km(beyond, route) == pytest.approx(
        distance_km(beyond, (30.0, 121.5)), rel=0.01
    )
    assert point_to_polyline_km(XIANGSHAN, [XIANGSHAN]) == 0.0


def test_point_to_polyline_matches_brute_force_geodesic_on_a_real_route() -> None:
    route = [PUCHENG, ZHENGZHOU, (32.13, 114.07), (31.80, 117.29), XIANGSHAN]
    prepared = prepare_polyline(route)
    for i in range(0, 101, 5):
        on_route = interpolate_along(prepared, i / 100)
        probe = (on_route[0] + 0.05, on_route[1] - 0.03)
        # Brute force: the nearest of many geodesically interpolated points.
        dense = min(distance_km(probe, interpolate_along(prepared, j / 2000)) for j in range(2001))
        assert point_to_polyline_km(probe, prepared) == pytest.approx(dense, abs=0.1)


def test_along_track_and_remaining_distance() -> None:
    route = [(29.5, 121.5), (30.0, 121.5), (30.0, 122.0)]
    total = path_length_km(route)
    assert along_track_km((29.5, 121.5), route) == pytest.approx(0.0, abs=1e-6)
    assert along_track_km((30.0, 122.0), route) == pytest.approx(total, rel=1e-9)
    # A point beside the middle of the first leg projects onto it.
    first_leg = distance_km((29.5, 121.5), (30.0, 121.5))
    assert along_track_km((29.75, 121.45), route) == pytest.approx(first_leg / 2, rel=0.01)
    # Remaining distance shrinks as the convoy advances.
    positions = [interpolate_along(route, f / 10) for f in range(11)]
    remaining = [total - along_track_km(p, route) for p in positions]
    assert remaining == sorted(remaining, reverse=True)
    assert remaining[-1] == pytest.approx(0.0, abs=1e-6)


def test_along_track_of_a_single_point_route_is_zero() -> None:
    assert along_track_km(PUCHENG, [XIANGSHAN]) == 0.0


def test_prepared_polyline_splits_long_legs_and_keeps_the_given_points() -> None:
    route = [PUCHENG, XIANGSHAN]
    prepared = prepare_polyline(route)
    assert isinstance(prepared, Polyline)
    assert prepared.points == (PUCHENG, XIANGSHAN)
    assert len(prepared.vertices) > 40  # 1,306 km in pieces of at most 25 km
    assert prepared.cumulative_km[-1] == pytest.approx(distance_km(PUCHENG, XIANGSHAN), rel=1e-9)
    assert prepare_polyline(prepared) is prepared


def test_invalid_routes_and_points_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one point"):
        prepare_polyline([])
    with pytest.raises(ValueError, match="not a valid"):
        point_to_polyline_km((95.0, 121.0), [XIANGSHAN])


def test_corridor_check_on_a_dense_route_matches_the_two_point_route() -> None:
    # A 1,000-vertex route from 蒲城 to 象山 along the geodesic (its speed: bench/bench_geo.py,
    # geo.corridor_dense_route) answers like the same route given by its two ends.
    dense = prepare_polyline(
        [interpolate_along([PUCHENG, XIANGSHAN], i / 999) for i in range(1000)]
    )
    sparse = prepare_polyline([PUCHENG, XIANGSHAN])
    point = (32.0, 115.0)
    assert point_to_polyline_km(point, dense) == pytest.approx(
        point_to_polyline_km(point, sparse), rel=1e-3
    )
    assert along_track_km(point, dense) == pytest.approx(along_track_km(point, sparse), rel=1e-3)


@settings(max_examples=300, deadline=None)
@given(st.floats(-80, 80), st.floats(-179, 179), st.floats(-0.2, 0.2), st.floats(-0.2, 0.2))
def test_sphere_distance_is_within_0_6_percent_of_the_geodesic(
    lat: float, lon: float, dlat: float, dlon: float
) -> None:
    a, b = (lat, lon), (lat + dlat, lon + dlon)
    assert sphere_distance_km(a, b) == pytest.approx(distance_km(a, b), rel=0.006, abs=1e-6)


def test_locate_on_route_is_distance_and_along_track_at_once() -> None:
    route = prepare_polyline([PUCHENG, ZHENGZHOU, XIANGSHAN])
    for probe in [(34.5, 112.0), (31.0, 118.5), PUCHENG, (29.0, 122.5)]:
        off, along = locate_on_route(probe, route)
        assert off == point_to_polyline_km(probe, route)
        assert along == along_track_km(probe, route)
