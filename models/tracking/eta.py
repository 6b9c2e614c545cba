"""Estimated time of arrival along a convoy's planned route (pure, no I/O by default).

The remaining distance is measured along the planned route (origin, waypoints, destination):
the geodesic length still ahead of the position's projection onto the route, times the mode's
``road_factor`` (roads and rails are longer than the straight line). The remaining time is that
distance at the mode's cruise speed plus a dwell at every waypoint still ahead. Speed profiles
and thresholds come from ``[speed.<mode>]`` and ``[delay.<mode>]`` in the rule file.

An optional road router (OSRM or Valhalla over HTTP, a setting, off by default) can replace the
geodesic estimate for buses; when it fails the geodesic estimate is used.
"""

from __future__ import annotations

import json
import math
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from config.rules import Rules
from models.errors import ConfigurationError
from models.geo.datums import LatLon
from models.geo.geodesy import (
    Polyline,
    locate_on_route,
    path_length_km,
    prepare_polyline,
)

# A waypoint counts as passed once the convoy is this far beyond it along the route.
_PASSED_KM = 1.0


@dataclass(frozen=True, slots=True)
class SpeedProfile:
    """How a mode travels: cruise speed, detour factor, dwell at each waypoint."""

    mode: str
    cruise_kmh: float
    road_factor: float = 1.0
    waypoint_dwell_min: float = 0.0

    def minutes_for(self, geodesic_km: float, waypoints_ahead: int = 0) -> float:
        """Travel time in minutes for a geodesic distance and a number of stops ahead."""
        return geodesic_km * self.road_factor / self.cruise_kmh * 60.0 + (
            self.waypoint_dwell_min * waypoints_ahead
        )


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The delay rules of a mode, in minutes and kilometres."""

    late_departure_min: float
    late_arrival_min: float
    stale_position_min: float
    stopped_min: float
    corridor_km: float


def speed_profile(rules: Rules, mode: str) -> SpeedProfile:
    """The speed profile of ``mode`` from the rule file's ``[speed.<mode>]`` table."""
    table = rules.speed.get(mode)
    if table is None:
        raise ConfigurationError(
            f"The rule file has no [speed.{mode}] table with cruise_kmh; "
            f"add one for {mode} convoys."
        )
    return SpeedProfile(
        mode=mode,
        cruise_kmh=table.cruise_kmh,
        road_factor=table.road_factor,
        waypoint_dwell_min=table.waypoint_dwell_min,
    )


def thresholds(rules: Rules, mode: str) -> Thresholds:
    """The delay thresholds of ``mode`` from the rule file's ``[delay.<mode>]`` table."""
    table = rules.delay.get(mode)
    if table is None:
        raise ConfigurationError(f"The rule file has no [delay.{mode}] table; add one.")
    return Thresholds(**table.model_dump())


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a position lies relative to the planned route."""

    along_km: float  # geodesic km along the route to the position's projection
    off_route_km: float  # distance from the route (the corridor check)
    remaining_km: float  # travelled km still ahead (road factor applied)
    waypoints_ahead: int
    remaining_min: float
    route_km: float  # travelled length of the whole route


@dataclass(frozen=True, slots=True)
class RouteLeg:
    """A router's answer: travelled distance and time from a point to the destination."""

    km: float
    minutes: float


class Router(Protocol):
    """A road router plug-in: distance and time through ``points`` in order, or None."""

    def route(self, points: Sequence[LatLon]) -> RouteLeg | None: ...


@lru_cache(maxsize=4096)
def _waypoint_km(points: tuple[LatLon, ...]) -> tuple[float, ...]:
    """Geodesic km along the route of each intermediate waypoint."""
    return tuple(path_length_km(points[: i + 1]) for i in range(1, len(points) - 1))


def route_of(points: Sequence[LatLon]) -> Polyline:
    """The prepared planned route (cached for repeated positions of the same convoy)."""
    return prepare_polyline(tuple((float(a), float(b)) for a, b in points))


def blended_kmh(profile: SpeedProfile, observed_kmh: float | None, weight: float = 0.5) -> float:
    """The speed an ETA assumes: the mode's cruise speed blended with the speed the convoy has
    actually made along its route lately (``weight`` of it), kept within 30–120 % of cruise so
    that a rest stop or one fast hour does not swing the ETA wildly."""
    if observed_kmh is None or weight <= 0:
        return profile.cruise_kmh
    lo, hi = 0.3 * profile.cruise_kmh, 1.2 * profile.cruise_kmh
    observed = min(hi, max(lo, observed_kmh))
    return (1 - weight) * profile.cruise_kmh + weight * observed


def progress(
    route: Polyline,
    point: LatLon,
    profile: SpeedProfile,
    router: Router | None = None,
    observed_kmh: float | None = None,
    observed_weight: float = 0.5,
    located: tuple[float, float] | None = None,
) -> Progress:
    """Project ``point`` onto the route and estimate the distance and time still ahead
    (``observed_kmh``: the travelled speed made good lately, blended into the profile's;
    ``located``: the point's ``locate_on_route`` when the caller has it already)."""
    off_km, along = located or locate_on_route(point, route)
    wp_km = _waypoint_km(route.points)
    ahead = sum(1 for km in wp_km if km > along + _PASSED_KM)
    remaining_geo = max(0.0, route.length_km - along)
    remaining_km = remaining_geo * profile.road_factor
    kmh = blended_kmh(profile, observed_kmh, observed_weight)
    minutes = remaining_km / kmh * 60.0 + profile.waypoint_dwell_min * ahead
    if router is not None and remaining_geo > _PASSED_KM:
        rest = [
            p for p, km in zip(route.points[1:-1], wp_km, strict=True) if km > along + _PASSED_KM
        ]
        leg = router.route([point, *rest, route.points[-1]])
        if leg is not None:
            remaining_km = leg.km
            minutes = leg.minutes + profile.waypoint_dwell_min * ahead
    return Progress(
        along_km=along,
        off_route_km=off_km,
        remaining_km=remaining_km,
        waypoints_ahead=ahead,
        remaining_min=minutes,
        route_km=route.length_km * profile.road_factor,
    )


def eta_from(at: datetime, remaining_min: float) -> datetime:
    """The arrival time ``remaining_min`` minutes after ``at``."""
    if at.tzinfo is None:
        raise ValueError("An ETA needs a timezone-aware start time.")
    return at + timedelta(minutes=remaining_min)


def planned_eta(
    points: Sequence[LatLon],
    profile: SpeedProfile,
    departure: datetime,
    now: datetime | None = None,
) -> datetime:
    """The ETA of a convoy still at its origin: leaving at ``departure`` (or now if later)."""
    start = max(departure, now) if now is not None else departure
    route = route_of(points)
    return eta_from(start, profile.minutes_for(route.length_km, len(route.points) - 2))


# --- optional road routers (HTTP; off by default) ---------------------------------------------


def _get_json(url: str, timeout: float, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if body is not None else {}
    req = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read().decode("utf-8"))


@dataclass(frozen=True)
class OsrmRouter:
    """An OSRM server's ``/route/v1/driving`` service."""

    base_url: str
    timeout: float = 3.0
    profile: str = "driving"

    def route(self, points: Sequence[LatLon]) -> RouteLeg | None:
        coords = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in points)
        url = f"{self.base_url.rstrip('/')}/route/v1/{self.profile}/{coords}?overview=false"
        try:
            doc = _get_json(url, self.timeout)
            best = doc["routes"][0]
            km, minutes = float(best["distance"]) / 1000.0, float(best["duration"]) / 60.0
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return None
        return RouteLeg(km, minutes) if math.isfinite(km) and math.isfinite(minutes) else None


@dataclass(frozen=True)
class ValhallaRouter:
    """A Valhalla server's ``/route`` service (auto costing)."""

    base_url: str
    timeout: float = 3.0
    costing: str = "auto"

    def route(self, points: Sequence[LatLon]) -> RouteLeg | None:
        body = {
            "locations": [{"lat": lat, "lon": lon} for lat, lon in points],
            "costing": self.costing,
            "units": "kilometers",
        }
        try:
            doc = _get_json(f"{self.base_url.rstrip('/')}/route", self.timeout, body)
            summary = doc["trip"]["summary"]
            km, minutes = float(summary["length"]), float(summary["time"]) / 60.0
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return RouteLeg(km, minutes)


def make_router(kind: str, url: str, timeout: float = 3.0) -> Router | None:
    """The router plug-in a setting names, or None for the built-in geodesic estimate."""
    if kind == "none":
        return None
    if not url:
        raise ConfigurationError(f"The {kind} router needs CONVOY_ROUTER_URL (its base URL).")
    if kind == "osrm":
        return OsrmRouter(url, timeout)
    if kind == "valhalla":
        return ValhallaRouter(url, timeout)
    raise ConfigurationError(f"The router {kind!r} is not known; use none, osrm or valhalla.")
