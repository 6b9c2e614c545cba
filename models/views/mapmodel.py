"""The map views as plain data: what the maps draw, with no database and no personal data.

Frozen dataclasses (:class:`ConvoyView`, :class:`CampaignView` and their parts: counts,
track points, checkpoints, handoff points, alerts with their places, long stops) and the
rules that read them: the drawn status (:class:`MapStatus`, with "closed but late" kept),
how it changed over time (:meth:`ConvoyView.status_changes`) and the long stops of a track
(:func:`long_stops`). :meth:`ConvoyView.of` builds a view from model objects;
:mod:`models.views.mapdata` reads views from a session. Views carry only counts, places and
codes; free text that could hold personal data goes through :func:`scrub`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum

from config import get_settings
from models.convoy.lifecycle import Census, Custody, Stage
from models.convoy.tables import Convoy, Position
from models.errors import ConfigurationError
from models.geo.datums import LatLon
from models.intake.identity import scrub
from models.tracking.eta import Thresholds, thresholds

__all__ = [
    "AlertMark",
    "CampaignView",
    "Checkpoint",
    "CheckpointKind",
    "ConvoyView",
    "Counts",
    "EnterpriseStop",
    "MapStatus",
    "TrackPoint",
    "TrackStop",
    "long_stops",
    "scrub",
]

_DELAY_KINDS = frozenset({"late_departure", "late_arrival"})
_MOVING = frozenset({Stage.DEPARTED, Stage.IN_TRANSIT})
_ARRIVED = frozenset({Stage.ARRIVED, Stage.ARRIVAL_SCREENED})
_DONE = frozenset({Stage.HANDED_OFF, Stage.CLOSED})
_DEFAULT_LATE_MIN = 30.0
_KM_PER_DEG = math.pi * 6371.0088 / 180.0


class MapStatus(StrEnum):
    """How a convoy is drawn: its stage group, overridden by a delay or an open alert.

    A convoy that is over (handed off, closed) keeps the record of a late arrival: it is
    ``DONE_LATE``, not ``DONE``, so a review afterwards still sees who was late.
    """

    PLANNED = "planned"  # planned … screened: still at the origin
    UNDER_WAY = "under_way"  # departed, in transit
    ARRIVED = "arrived"  # arrived, screened on arrival
    DONE = "done"  # handed off, closed, on time
    DONE_LATE = "done_late"  # handed off, closed, arrived later than the mode's threshold
    DELAYED = "delayed"  # late (ETA or actual arrival past the threshold, or a delay alert)
    ALERT = "alert"  # an open alert other than a delay (off route, stopped, no position)

    @property
    def late(self) -> bool:
        """Whether the status says "late" (delayed now, or arrived late and closed)."""
        return self in (MapStatus.DELAYED, MapStatus.DONE_LATE)


class CheckpointKind(StrEnum):
    MUSTER = "muster"
    SCREENING = "screening"
    ARRIVAL = "arrival"
    ARRIVAL_SCREENING = "arrival_screening"
    HANDOFF = "handoff"


@dataclass(frozen=True, slots=True)
class Counts:
    """Passenger figures of one convoy (or a sum of convoys)."""

    total: int = 0
    boarded: int = 0  # everyone who ever boarded (held later or not)
    arrived: int = 0  # everyone who ever arrived at the destination
    handed_off: int = 0
    held: int = 0
    withdrawn: int = 0
    in_custody: int = 0

    @classmethod
    def from_census(cls, census: Census, reached: Mapping[str, int] | None = None) -> Counts:
        """Counts from the current states; ``reached`` (passengers who ever entered each state,
        from the custody events) gives the exact boarded/arrived figures."""
        if reached is None:
            at_least_boarded = (
                census.count(Custody.BOARDED) + census.count(Custody.ARRIVED) + census.handed_off
            )
            at_least_arrived = census.count(Custody.ARRIVED) + census.handed_off
        else:
            at_least_boarded = reached.get(Custody.BOARDED.value, 0)
            at_least_arrived = reached.get(Custody.ARRIVED.value, 0)
        return cls(
            total=census.total,
            boarded=at_least_boarded,
            arrived=at_least_arrived,
            handed_off=census.handed_off,
            held=census.held,
            withdrawn=census.withdrawn,
            in_custody=census.in_custody,
        )

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True, slots=True)
class TrackPoint:
    at: datetime
    lat: float
    lon: float
    speed_kmh: float | None = None


@dataclass(frozen=True, slots=True)
class TrackStop:
    """A long stop on the track: the positions stayed within the monitor's ``stop_radius_km``
    for at least the mode's ``stopped_min`` (not counting the stop at the destination)."""

    since: datetime
    until: datetime
    lat: float
    lon: float

    @property
    def minutes(self) -> int:
        return round((self.until - self.since).total_seconds() / 60)


@dataclass(frozen=True, slots=True)
class AlertMark:
    """An alert (open or resolved) where and when it happened, for the route map's track.

    ``text`` is the alert's subject (scrubbed); ``minutes`` the duration it reports (stopped
    for, late by, silent for) when it has one; ``lat``/``lon`` where it was raised (the
    position it names, else the track point at ``opened_at``; ``None`` without a track).
    """

    kind: str
    text: str
    opened_at: datetime
    open: bool = True
    minutes: int | None = None
    lat: float | None = None
    lon: float | None = None
    distance_km: float | None = None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A place where the escorts count people: muster, screening, arrival, handoff."""

    kind: CheckpointKind
    name: str
    lat: float
    lon: float
    done: bool = False
    at: datetime | None = None
    passed: int | None = None  # cleared / arrived / handed over here
    held: int = 0
    withdrawn: int = 0
    expected: int | None = None  # handoff: workers on the manifest for this enterprise
    approximate: bool = False  # no own coordinates: drawn at the origin or destination


@dataclass(frozen=True, slots=True)
class EnterpriseStop:
    """An employer receiving workers (campaign-wide), with its figures."""

    name: str
    district: str
    lat: float
    lon: float
    expected: int
    handed_off: int
    convoys: int
    approximate: bool = False


@dataclass(frozen=True, slots=True)
class ConvoyView:
    """Everything a convoy map shows, as plain data."""

    code: str
    mode: str
    vehicle: str
    stage: Stage
    origin_name: str
    origin: LatLon
    destination_name: str
    destination: LatLon
    waypoints: tuple[tuple[str, float, float], ...]
    planned_departure: datetime
    planned_arrival: datetime
    counts: Counts
    actual_departure: datetime | None = None
    actual_arrival: datetime | None = None
    track: tuple[TrackPoint, ...] = ()
    current: TrackPoint | None = None
    eta: datetime | None = None
    remaining_km: float | None = None
    delay_minutes: int | None = None
    late_after_minutes: float = _DEFAULT_LATE_MIN
    alerts: tuple[tuple[str, str], ...] = ()
    checkpoints: tuple[Checkpoint, ...] = ()
    escorts: int = 0
    stage_times: tuple[tuple[Stage, datetime], ...] = ()  # when each reached stage was reached
    alert_marks: tuple[AlertMark, ...] = ()  # every alert, open or resolved, with its place
    corridor_km: float | None = None  # the off-route corridor's half-width (the monitor's)
    stopped_after_minutes: float | None = None  # how long a stop lasts before it is an alert
    stops: tuple[TrackStop, ...] = ()  # long stops found on the whole track

    @property
    def route(self) -> list[LatLon]:
        """The planned route: origin, waypoints, destination."""
        return [self.origin, *((lat, lon) for _n, lat, lon in self.waypoints), self.destination]

    @property
    def late_minutes(self) -> int | None:
        """Minutes late at the destination (actual arrival, else the ETA) when that is more
        than the mode's threshold; ``None`` when on time, early or unknown."""
        if self.delay_minutes is not None and self.delay_minutes > self.late_after_minutes:
            return self.delay_minutes
        return None

    @property
    def delayed(self) -> bool:
        late = self.late_minutes is not None
        return late or any(kind in _DELAY_KINDS for kind, _ in self.alerts)

    def status_changes(self) -> tuple[tuple[datetime | None, MapStatus], ...]:
        """How the drawn status changed over time, for replays: ``(since, status)`` pairs in
        order, the first one with ``since=None`` (before anything was recorded).

        The stage groups follow ``stage_times`` (or the actual departure and arrival when
        there are none); from ``planned_arrival + late_after_minutes`` on, a convoy not yet
        arrived by then, or one that arrived late, is drawn late. Open alerts are not
        replayed (only the current status knows them).
        """
        times = list(self.stage_times)
        if not times:
            if self.actual_departure is not None:
                times.append((Stage.DEPARTED, self.actual_departure))
            if self.actual_arrival is not None:
                times.append((Stage.ARRIVED, self.actual_arrival))
        events: list[tuple[datetime, int, MapStatus]] = []
        for order, (stage, at) in enumerate(sorted(times, key=lambda st: st[1])):
            events.append((at, order, _stage_group(stage)))
        late_since = None
        if self.late_minutes is not None:
            late_since = self.planned_arrival + timedelta(minutes=self.late_after_minutes)
            events.append((late_since, len(events), MapStatus.DELAYED))
        events.sort(key=lambda e: (e[0], e[1]))
        changes: list[tuple[datetime | None, MapStatus]] = [(None, MapStatus.PLANNED)]
        group = MapStatus.PLANNED
        for at, _order, what in events:
            if what is not MapStatus.DELAYED:
                group = what
            late = late_since is not None and at >= late_since
            status = group
            if late and group is MapStatus.DONE:
                status = MapStatus.DONE_LATE
            elif late:
                status = MapStatus.DELAYED
            if status is not changes[-1][1]:
                changes.append((at, status))
        return tuple(changes)

    @property
    def status(self) -> MapStatus:
        if self.stage in _DONE:
            return MapStatus.DONE if self.late_minutes is None else MapStatus.DONE_LATE
        if any(kind not in _DELAY_KINDS for kind, _ in self.alerts):
            return MapStatus.ALERT
        if self.delayed:
            return MapStatus.DELAYED
        if self.stage in _ARRIVED:
            return MapStatus.ARRIVED
        if self.stage in _MOVING:
            return MapStatus.UNDER_WAY
        return MapStatus.PLANNED

    @classmethod
    def of(
        cls,
        convoy: Convoy,
        positions: Sequence[Position] = (),
        census: Census | Counts | None = None,
        *,
        eta: datetime | None = None,
        remaining_km: float | None = None,
        alerts: Iterable[tuple[str, str]] = (),
        checkpoints: Sequence[Checkpoint] | None = None,
        late_after_minutes: float | None = None,
        escorts: int = 0,
        max_track_points: int = 2000,
        stage_times: Iterable[tuple[Stage | str, datetime]] = (),
        alert_marks: Iterable[AlertMark] = (),
    ) -> ConvoyView:
        """A view of model objects, no database needed. Without ``checkpoints`` the default
        ones (muster and screening at the origin, arrival at the destination) are used.
        ``alert_marks`` without a place are placed on the track at their opening time; the
        corridor width and the long-stop rule come from the rules of the convoy's mode."""
        if isinstance(census, Counts):
            counts = census
        else:
            counts = Counts.from_census(census or Census(total=0))
        points = [TrackPoint(p.at, p.lat, p.lon, p.speed_kmh) for p in positions]
        points.sort(key=lambda p: p.at)
        stage = Stage(convoy.stage)
        rules = _thresholds(convoy.mode)
        late_after = rules.late_arrival_min if rules is not None else _DEFAULT_LATE_MIN
        destination = (convoy.destination_lat, convoy.destination_lon)
        return cls(
            code=convoy.code,
            mode=convoy.mode,
            vehicle=convoy.vehicle,
            stage=stage,
            origin_name=convoy.origin_name,
            origin=(convoy.origin_lat, convoy.origin_lon),
            destination_name=convoy.destination_name,
            destination=(convoy.destination_lat, convoy.destination_lon),
            waypoints=tuple(
                (str(w.get("name", "")), float(w["lat"]), float(w["lon"]))
                for w in convoy.waypoints or []
            ),
            planned_departure=convoy.planned_departure,
            planned_arrival=convoy.planned_arrival,
            actual_departure=convoy.actual_departure,
            actual_arrival=convoy.actual_arrival,
            counts=counts,
            track=tuple(_thin(points, max_track_points)),
            current=points[-1] if points and stage not in _DONE else None,
            eta=eta if stage not in _DONE and convoy.actual_arrival is None else None,
            remaining_km=remaining_km,
            delay_minutes=_delay(convoy, eta),
            late_after_minutes=(
                late_after_minutes if late_after_minutes is not None else late_after
            ),
            alerts=tuple((str(k), scrub(str(m))) for k, m in alerts),
            checkpoints=(
                tuple(checkpoints) if checkpoints is not None else _default_checkpoints(convoy)
            ),
            escorts=escorts,
            stage_times=tuple(sorted(((Stage(s), at) for s, at in stage_times), key=_at)),
            alert_marks=tuple(_place(mark, points) for mark in alert_marks),
            corridor_km=rules.corridor_km if rules is not None else None,
            stopped_after_minutes=rules.stopped_min if rules is not None else None,
            stops=tuple(long_stops(points, rules.stopped_min, destination)) if rules else (),
        )


@dataclass(frozen=True, slots=True)
class CampaignView:
    """A campaign for the operations overview: every convoy plus the receiving enterprises."""

    name: str
    city: str
    convoys: tuple[ConvoyView, ...]
    enterprises: tuple[EnterpriseStop, ...] = ()
    totals: Counts = field(default_factory=Counts)

    @property
    def destination(self) -> LatLon:
        """Where the lines converge: the most common destination point (its mean if tied)."""
        if not self.convoys:
            return (29.874, 121.550)  # Ningbo
        common = Counter(c.destination for c in self.convoys).most_common(1)[0][0]
        return common

    @property
    def open_alerts(self) -> int:
        return sum(len(c.alerts) for c in self.convoys)


# --------------------------------------------------------------------------- helpers


def _stage_group(stage: Stage) -> MapStatus:
    if stage in _DONE:
        return MapStatus.DONE
    if stage in _ARRIVED:
        return MapStatus.ARRIVED
    if stage in _MOVING:
        return MapStatus.UNDER_WAY
    return MapStatus.PLANNED


def _thin(points: list[TrackPoint], limit: int) -> list[TrackPoint]:
    """At most ``limit`` points, evenly spaced, first and last kept."""
    if limit < 2 or len(points) <= limit:
        return points
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def _thresholds(mode: str) -> Thresholds | None:
    """The mode's delay rules (late arrival, corridor, long stop), ``None`` without a rule."""
    try:
        return thresholds(get_settings().rule_set, mode)
    except (ConfigurationError, OSError):
        return None


def _tracking_rule(name: str) -> float:
    """A number of the rules' ``[tracking]`` table (its defaults live in ``config.rules``)."""
    return float(getattr(get_settings().rule_set.tracking, name))


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """A short distance in km (flat-earth approximation, exact enough below 10 km)."""
    kx = math.cos(math.radians((a[0] + b[0]) / 2)) * _KM_PER_DEG
    return math.hypot((a[0] - b[0]) * _KM_PER_DEG, (a[1] - b[1]) * kx)


def long_stops(
    points: Sequence[TrackPoint],
    min_minutes: float,
    destination: tuple[float, float] | None = None,
    *,
    radius_km: float | None = None,
    arrival_radius_km: float | None = None,
) -> list[TrackStop]:
    """The stops of a track as the monitor judges them: positions staying within
    ``radius_km`` (the rules' ``[tracking] stop_radius_km``) of where the stop began for at
    least ``min_minutes``; a stop within ``arrival_radius_km`` of the destination is the
    arrival, not a stop."""
    radius = radius_km if radius_km is not None else _tracking_rule("stop_radius_km")
    near = (
        arrival_radius_km if arrival_radius_km is not None else _tracking_rule("arrival_radius_km")
    )
    stops: list[TrackStop] = []
    i = 0
    while i < len(points):
        anchor = points[i]
        j = i
        start = (anchor.lat, anchor.lon)
        while j + 1 < len(points) and _km(start, (points[j + 1].lat, points[j + 1].lon)) <= radius:
            j += 1
        last = points[j]
        minutes = (last.at - anchor.at).total_seconds() / 60
        at_end = destination is not None and _km(start, destination) <= near
        if j > i and minutes >= min_minutes and not at_end:
            run = points[i : j + 1]
            lat = sum(p.lat for p in run) / len(run)
            lon = sum(p.lon for p in run) / len(run)
            stops.append(TrackStop(anchor.at, last.at, lat, lon))
        i = j + 1
    return stops


def _at(item: tuple[Stage, datetime]) -> datetime:
    return item[1]


def _place(mark: AlertMark, points: Sequence[TrackPoint]) -> AlertMark:
    """The alert at the place it names, else at the newest track point not after its opening
    (the first one if it opened before the track began)."""
    if (mark.lat is not None and mark.lon is not None) or not points:
        return replace(mark, text=scrub(mark.text))
    before = [p for p in points if p.at <= mark.opened_at]
    where = before[-1] if before else points[0]
    return replace(mark, text=scrub(mark.text), lat=where.lat, lon=where.lon)


def _delay(convoy: Convoy, eta: datetime | None) -> int | None:
    """Minutes late at the destination: actual arrival, else the ETA (negative: early)."""
    if convoy.actual_arrival is not None:
        return round((convoy.actual_arrival - convoy.planned_arrival).total_seconds() / 60)
    if eta is not None:
        return round((eta - convoy.planned_arrival).total_seconds() / 60)
    return None


def _default_checkpoints(convoy: Convoy) -> tuple[Checkpoint, ...]:
    stage = Stage(convoy.stage)
    order = list(Stage)

    def reached(s: Stage) -> bool:
        return order.index(stage) >= order.index(s)

    o = (convoy.origin_lat, convoy.origin_lon)
    d = (convoy.destination_lat, convoy.destination_lon)
    return (
        Checkpoint(CheckpointKind.MUSTER, convoy.origin_name, *o, done=reached(Stage.MUSTERING)),
        Checkpoint(CheckpointKind.SCREENING, convoy.origin_name, *o, done=reached(Stage.SCREENED)),
        Checkpoint(
            CheckpointKind.ARRIVAL, convoy.destination_name, *d, done=reached(Stage.ARRIVED)
        ),
    )
