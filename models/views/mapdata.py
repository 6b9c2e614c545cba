"""What the maps draw, gathered from the database as plain data (issue 5).

``maps/`` only renders; this module reads a convoy (or a whole campaign) and hands over frozen
dataclasses: the route, the track, counts, checkpoints, handoff points per enterprise, open
alerts, the ETA and the delay. It carries **no personal data**: no passenger, escort or
contact names, ID numbers or phones, only counts, places and codes. Free text that could hold
personal data (alert subjects, check-in locations) goes through :func:`scrub`.

:meth:`ConvoyView.of` builds the same view from model objects without a database (tests,
other callers); :func:`convoy_view` and :func:`campaign_view` read it from a session.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlmodel import Session, col

from config import get_settings
from models.convoy.lifecycle import Census, Custody, Stage
from models.convoy.store import convoy_escorts, get_campaign, get_convoy, list_convoys
from models.convoy.tables import Convoy, CustodyEvent, Enterprise, Passenger, Position, StageRun
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
    "campaign_view",
    "convoy_view",
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


# --------------------------------------------------------------------------- database


def _positions(session: Session, convoy_id: int) -> list[Position]:
    return list(
        session.execute(
            select(Position).where(col(Position.convoy_id) == convoy_id).order_by(col(Position.at))
        ).scalars()
    )


def _last_position(session: Session, convoy_id: int) -> list[Position]:
    found = (
        session.execute(
            select(Position)
            .where(col(Position.convoy_id) == convoy_id)
            .order_by(col(Position.at).desc())
            .limit(1)
        )
        .scalars()
        .first()
    )
    return [found] if found is not None else []


def _open_alerts(session: Session, convoy_id: int) -> list[tuple[str, str]]:
    """Unresolved alerts as (kind, subject). Empty when the alert tables are not there."""
    try:
        from models.tracking.alerts.tables import Alert, AlertState
    except ImportError:  # pragma: no cover - the alert module is optional for maps
        return []
    rows = session.execute(
        select(col(Alert.kind), col(Alert.summary))
        .where(col(Alert.convoy_id) == convoy_id)
        .where(col(Alert.state) != AlertState.RESOLVED.value)
        .order_by(col(Alert.opened_at))
    ).all()
    return [(kind, summary or kind) for kind, summary in rows]


def _alert_marks(session: Session, convoy_id: int) -> list[AlertMark]:
    """Every alert of the convoy (open or resolved) with the place and duration it reports."""
    try:
        from models.tracking.alerts.tables import Alert, AlertState
    except ImportError:  # pragma: no cover
        return []
    rows = session.execute(
        select(Alert).where(col(Alert.convoy_id) == convoy_id).order_by(col(Alert.opened_at))
    ).scalars()
    marks = []
    for alert in rows:
        details = alert.details or {}
        minutes = details.get("minutes")
        lat, lon = details.get("lat"), details.get("lon")
        distance = details.get("distance_km")
        marks.append(
            AlertMark(
                kind=alert.kind,
                text=alert.summary or alert.kind,
                opened_at=alert.opened_at,
                open=alert.state != AlertState.RESOLVED.value,
                minutes=int(minutes) if isinstance(minutes, int | float) else None,
                lat=float(lat) if isinstance(lat, int | float) else None,
                lon=float(lon) if isinstance(lon, int | float) else None,
                distance_km=float(distance) if isinstance(distance, int | float) else None,
            )
        )
    return marks


def _track_state(session: Session, convoy_id: int) -> tuple[datetime | None, float | None]:
    """The ETA and remaining km the tracker computed at the newest fix (if any)."""
    try:
        from models.tracking.tables import TrackState
    except ImportError:  # pragma: no cover
        return None, None
    state = session.get(TrackState, convoy_id)
    if state is None:
        return None, None
    return state.eta, state.remaining_km


def _reached(session: Session, convoy_id: int) -> dict[str, int]:
    """How many passengers ever entered each custody state (events are unique per state)."""
    rows = session.execute(
        select(col(CustodyEvent.to_state), func.count())
        .where(col(CustodyEvent.convoy_id) == convoy_id)
        .group_by(col(CustodyEvent.to_state))
    ).all()
    return {state: int(n) for state, n in rows}


def _by_stage(session: Session, convoy_id: int) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(col(CustodyEvent.stage), col(CustodyEvent.to_state), func.count())
        .where(col(CustodyEvent.convoy_id) == convoy_id)
        .group_by(col(CustodyEvent.stage), col(CustodyEvent.to_state))
    ).all()
    return {(stage, state): int(n) for stage, state, n in rows}


def _stage_places(session: Session, convoy_id: int) -> dict[str, str]:
    """The most used custody-event location of each stage (e.g. the screening hall)."""
    rows = session.execute(
        select(col(CustodyEvent.stage), col(CustodyEvent.location), func.count())
        .where(col(CustodyEvent.convoy_id) == convoy_id)
        .where(col(CustodyEvent.location) != "")
        .group_by(col(CustodyEvent.stage), col(CustodyEvent.location))
    ).all()
    best: dict[str, tuple[int, str]] = {}
    for stage, location, n in rows:
        if stage not in best or n > best[stage][0]:
            best[stage] = (int(n), location)
    return {stage: scrub(loc) for stage, (_n, loc) in best.items()}


def _stage_times(session: Session, convoy_id: int) -> dict[str, datetime]:
    rows = session.execute(
        select(col(StageRun.stage), col(StageRun.at)).where(col(StageRun.convoy_id) == convoy_id)
    ).all()
    return {stage: at for stage, at in rows}


def _per_enterprise(
    session: Session, convoy_id: int
) -> list[tuple[Enterprise | None, str, dict[str, int]]]:
    """(enterprise or None, employer text, counts by custody state) per employer."""
    rows = session.execute(
        select(
            col(Passenger.enterprise_id),
            col(Passenger.employer),
            col(Passenger.custody),
            func.count(),
        )
        .where(col(Passenger.convoy_id) == convoy_id)
        .group_by(col(Passenger.enterprise_id), col(Passenger.employer), col(Passenger.custody))
    ).all()
    grouped: dict[tuple[int | None, str], dict[str, int]] = defaultdict(dict)
    for ent_id, employer, state, n in rows:
        key = (ent_id, "" if ent_id is not None else employer)
        grouped[key][state] = grouped[key].get(state, 0) + int(n)
    out = []
    for (ent_id, employer), counts in sorted(grouped.items(), key=lambda kv: str(kv[0])):
        ent = session.get(Enterprise, ent_id) if ent_id is not None else None
        out.append((ent, employer, counts))
    return out


def _checkpoints(
    session: Session,
    convoy: Convoy,
    enterprises: list[tuple[Enterprise | None, str, dict[str, int]]],
) -> tuple[Checkpoint, ...]:
    cid = convoy.id or 0
    by_stage = _by_stage(session, cid)
    places = _stage_places(session, cid)
    times = _stage_times(session, cid)
    o = (convoy.origin_lat, convoy.origin_lon)
    d = (convoy.destination_lat, convoy.destination_lon)

    order = list(Stage)
    now = order.index(Stage(convoy.stage))

    def n(stage: Stage, state: Custody) -> int:
        return by_stage.get((stage.value, state.value), 0)

    def reached(stage: Stage) -> bool:
        return stage.value in times or now >= order.index(stage)

    def point(
        kind: CheckpointKind, stage: Stage, at: LatLon, default_name: str, passed: int
    ) -> Checkpoint:
        return Checkpoint(
            kind,
            places.get(stage.value) or default_name,
            *at,
            done=reached(stage),
            at=times.get(stage.value),
            passed=passed,
            held=n(stage, Custody.HELD),
            withdrawn=n(stage, Custody.WITHDRAWN),
        )

    total = sum(sum(c.values()) for _e, _n, c in enterprises)
    mustered = total - n(Stage.MUSTERING, Custody.WITHDRAWN)
    cps = [
        point(CheckpointKind.MUSTER, Stage.MUSTERING, o, convoy.origin_name, mustered),
        point(
            CheckpointKind.SCREENING,
            Stage.SCREENED,
            o,
            convoy.origin_name,
            n(Stage.SCREENED, Custody.CLEARED),
        ),
        point(
            CheckpointKind.ARRIVAL,
            Stage.ARRIVED,
            d,
            convoy.destination_name,
            n(Stage.ARRIVED, Custody.ARRIVED),
        ),
        point(
            CheckpointKind.ARRIVAL_SCREENING,
            Stage.ARRIVAL_SCREENED,
            d,
            convoy.destination_name,
            n(Stage.ARRIVED, Custody.ARRIVED) - n(Stage.ARRIVAL_SCREENED, Custody.HELD)
            if reached(Stage.ARRIVAL_SCREENED)
            else 0,
        ),
    ]
    for ent, employer, counts in enterprises:
        lat, lon = d
        has_point = ent is not None and ent.lat is not None and ent.lon is not None
        if ent is not None and ent.lat is not None and ent.lon is not None:
            lat, lon = ent.lat, ent.lon
        handed = counts.get(Custody.HANDED_OFF.value, 0)
        cps.append(
            Checkpoint(
                CheckpointKind.HANDOFF,
                ent.name if ent is not None else (employer or "?"),
                lat,
                lon,
                done=handed > 0,
                at=times.get(Stage.HANDED_OFF.value),
                passed=handed,
                expected=sum(counts.values()),
                approximate=not has_point,
            )
        )
    return tuple(cps)


def _view(
    session: Session, convoy: Convoy, *, full_track: bool, max_track_points: int
) -> tuple[ConvoyView, list[tuple[Enterprise | None, str, dict[str, int]]]]:
    cid = convoy.id or 0
    enterprises = _per_enterprise(session, cid)
    states: Counter[Custody] = Counter()
    for _e, _n, counts in enterprises:
        for state, k in counts.items():
            states[Custody(state)] += k
    census = Census(total=sum(states.values()), by_state=dict(states))
    eta, remaining = _track_state(session, cid)
    positions = _positions(session, cid) if full_track else _last_position(session, cid)
    view = ConvoyView.of(
        convoy,
        positions,
        Counts.from_census(census, _reached(session, cid)),
        eta=eta,
        remaining_km=remaining,
        alerts=_open_alerts(session, cid),
        checkpoints=_checkpoints(session, convoy, enterprises),
        escorts=len(convoy_escorts(session, convoy)),
        max_track_points=max_track_points,
        stage_times=_stage_times(session, cid).items(),
        alert_marks=_alert_marks(session, cid) if full_track else (),
    )
    return view, enterprises


def convoy_view(session: Session, code: str, *, max_track_points: int = 2000) -> ConvoyView:
    """One convoy for its route map: the whole track (thinned to ``max_track_points``)."""
    convoy = get_convoy(session, code)
    view, _ = _view(session, convoy, full_track=True, max_track_points=max_track_points)
    return view


@dataclass
class _StopSum:
    name: str
    district: str
    lat: float
    lon: float
    approximate: bool
    expected: int = 0
    handed_off: int = 0
    convoys: int = 0


def campaign_view(session: Session, name: str, *, max_track_points: int = 150) -> CampaignView:
    """A campaign for the operations overview: each convoy with its track thinned to
    ``max_track_points`` (for the campaign replay; 0: no tracks, the newest fix only)."""
    campaign = get_campaign(session, name)
    views: list[ConvoyView] = []
    stops: dict[str, _StopSum] = {}
    for convoy in list_convoys(session, name):
        full = max_track_points > 0
        view, enterprises = _view(
            session, convoy, full_track=full, max_track_points=max(max_track_points, 2)
        )
        views.append(view if full else replace(view, track=()))
        for ent, employer, counts in enterprises:
            key = ent.name if ent is not None else (employer or "?")
            stop = stops.get(key)
            if stop is None:
                if ent is not None and ent.lat is not None and ent.lon is not None:
                    stop = _StopSum(key, ent.district, ent.lat, ent.lon, False)
                else:
                    district = ent.district if ent is not None else ""
                    stop = _StopSum(key, district, *view.destination, True)
                stops[key] = stop
            stop.expected += sum(counts.values())
            stop.handed_off += counts.get(Custody.HANDED_OFF.value, 0)
            stop.convoys += 1
    totals = Counts()
    for v in views:
        totals = totals + v.counts
    return CampaignView(
        name=campaign.name,
        city=campaign.city,
        convoys=tuple(views),
        enterprises=tuple(
            EnterpriseStop(
                s.name,
                s.district,
                s.lat,
                s.lon,
                s.expected,
                s.handed_off,
                s.convoys,
                s.approximate,
            )
            for s in stops.values()
        ),
        totals=totals,
    )
