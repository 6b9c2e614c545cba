"""Delay detection (pure functions): the alert conditions that hold for one convoy at one instant.

* ``late_departure`` - not departed ``late_departure_min`` after the planned departure;
* ``late_arrival`` - the ETA is later than the planned arrival by more than ``late_arrival_min``
  (Prefect event ``convoy.delayed``);
* ``stale_position`` - under way and no fresh position for ``stale_position_min``;
* ``off_route`` - the newest fresh position is further than ``corridor_km`` from the planned
  route (a polyline with a width); it clears inside ``off_route_clear_ratio`` of the corridor;
* ``stopped`` - fresh positions show no movement beyond ``stop_radius_km`` for ``stopped_min``
  (not near the destination).

Only fixes fresh at the monitor's clock are judged, so a replayed old track never raises an
alert.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from config.rules import TrackingRules
from models.convoy.lifecycle import STAGES, Stage
from models.tracking.alerts.tables import AlertKind
from models.tracking.eta import Thresholds

_DEPARTED = STAGES.index(Stage.DEPARTED)
_ARRIVED = STAGES.index(Stage.ARRIVED)


@dataclass(frozen=True, slots=True)
class TrackView:
    """What the monitor knows of a convoy's track (from ``TrackState``)."""

    last_fix_at: datetime
    lat: float
    lon: float
    off_route_km: float
    remaining_km: float
    remaining_min: float
    eta: datetime
    still_since: datetime


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One convoy as the monitor sees it at one instant."""

    convoy_id: int
    code: str
    mode: str
    stage: str
    planned_departure: datetime
    planned_arrival: datetime
    actual_departure: datetime | None
    full_route_min: float  # travel time of the whole route by the speed profile
    track: TrackView | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    kind: AlertKind
    details: dict[str, Any] = field(default_factory=dict)


def whole_minutes(delta: timedelta) -> int:
    """A duration in whole minutes (rounded down), as alerts report it."""
    return int(delta.total_seconds() // 60)


def is_fresh(track: TrackView | None, now: datetime, th: Thresholds) -> bool:
    """Whether the newest fix is recent enough at ``now`` to be judged."""
    return track is not None and now - track.last_fix_at <= timedelta(minutes=th.stale_position_min)


def expected_arrival(s: Snapshot, now: datetime, th: Thresholds) -> datetime:
    """The ETA the monitor believes: computed at a fresh fix; else as if the convoy had not
    moved since its last fix (or its departure) and set off again now."""
    if s.track is not None and is_fresh(s.track, now, th):
        return s.track.eta
    if s.track is not None:
        return now + timedelta(minutes=s.track.remaining_min)
    start = s.actual_departure or s.planned_departure
    return max(now, start) + timedelta(minutes=s.full_route_min)


def detect(
    s: Snapshot,
    now: datetime,
    th: Thresholds,
    rules: TrackingRules = TrackingRules(),
    open_kinds: Iterable[str] = (),
) -> list[Condition]:
    """The alert conditions that hold for ``s`` at ``now`` (``open_kinds``: alerts already
    open, for hysteresis)."""
    try:
        at = STAGES.index(Stage(s.stage))
    except ValueError:
        return []
    if at >= _ARRIVED:
        return []
    found: list[Condition] = []
    if at < _DEPARTED:
        late = now - s.planned_departure
        if late > timedelta(minutes=th.late_departure_min):
            found.append(Condition(AlertKind.LATE_DEPARTURE, {"minutes": whole_minutes(late)}))
        return found
    track = s.track
    fresh = is_fresh(track, now, th)
    # No fresh position.
    if not fresh:
        since = track.last_fix_at if track else (s.actual_departure or s.planned_departure)
        silent = now - since
        if silent > timedelta(minutes=th.stale_position_min):
            found.append(
                Condition(
                    AlertKind.STALE_POSITION,
                    {"minutes": whole_minutes(silent), "last": since.isoformat()},
                )
            )
    # ETA later than planned.
    eta = expected_arrival(s, now, th)
    late = eta - s.planned_arrival
    if late > timedelta(minutes=th.late_arrival_min):
        remaining = track.remaining_km if track else None
        found.append(
            Condition(
                AlertKind.LATE_ARRIVAL,
                {"minutes": whole_minutes(late), "eta": eta.isoformat(), "remaining_km": remaining},
            )
        )
    if not fresh or track is None:
        return found
    # Off the route corridor (with hysteresis when already open).
    limit = th.corridor_km
    if AlertKind.OFF_ROUTE.value in set(open_kinds):
        limit *= rules.off_route_clear_ratio
    if track.off_route_km > limit:
        found.append(
            Condition(
                AlertKind.OFF_ROUTE,
                {
                    "distance_km": round(track.off_route_km, 1),
                    "lat": round(track.lat, 5),
                    "lon": round(track.lon, 5),
                    "last": track.last_fix_at.isoformat(),
                },
            )
        )
    # Stopped too long (the evidence is the fixes themselves, not the silence after them).
    still = track.last_fix_at - track.still_since
    if still >= timedelta(minutes=th.stopped_min) and track.remaining_km > rules.arrival_radius_km:
        found.append(
            Condition(
                AlertKind.STOPPED,
                {
                    "minutes": whole_minutes(still),
                    "since": track.still_since.isoformat(),
                    "lat": round(track.lat, 5),
                    "lon": round(track.lon, 5),
                    "remaining_km": round(track.remaining_km),
                },
            )
        )
    return found
