"""What the maps draw, read from the database as plain data (issues 5 and 13).

``maps/`` only renders; this module reads a convoy (:func:`convoy_view`) or a whole campaign
(:func:`campaign_view`) and hands over the frozen views of :mod:`models.views.mapmodel`
(re-exported here): the route, the track, counts, checkpoints, handoff points per
enterprise, every alert with its place, stage times, the ETA and the delay. It carries **no
personal data**: no passenger, escort or contact names, ID numbers or phones, only counts,
places and codes. Free text that could hold personal data (alert subjects, check-in
locations) goes through :func:`scrub`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from models.convoy.lifecycle import Census, Custody, Stage
from models.convoy.store import get_campaign, get_convoy, list_convoys
from models.convoy.tables import (
    Assignment,
    Convoy,
    CustodyEvent,
    Enterprise,
    Escort,
    Passenger,
    Position,
    StageRun,
)
from models.geo.datums import LatLon
from models.tracking.alerts.tables import Alert, AlertState
from models.tracking.tables import TrackState
from models.views.mapmodel import (
    AlertMark,
    CampaignView,
    Checkpoint,
    CheckpointKind,
    ConvoyView,
    Counts,
    EnterpriseStop,
    MapStatus,
    TrackPoint,
    TrackStop,
    long_stops,
    scrub,
)

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


# --------------------------------------------------------------------------- database


@dataclass(frozen=True)
class _Scope:
    """The convoys read: one (``convoy_id``) or every one of a campaign (``campaign_id``). Each
    read below is one query for all of them, keyed by convoy id (read convoy by convoy, the 43
    convoys of a simulated 1x campaign took 930 queries)."""

    convoy_id: int | None = None
    campaign_id: int | None = None

    def on(self, column: Any) -> Any:
        if self.convoy_id is not None:
            return column == self.convoy_id
        return column.in_(select(col(Convoy.id)).where(col(Convoy.campaign_id) == self.campaign_id))


def _positions(session: Session, scope: _Scope, *, newest_only: bool) -> dict[int, list[Any]]:
    """Each convoy's positions by time (``newest_only``: its newest one), as plain rows with
    the columns a track point needs (a campaign's tracks are thousands of rows)."""
    p = Position.__table__.c  # type: ignore[attr-defined]
    columns = (p.convoy_id, p.at, p.lat, p.lon, p.speed_kmh)
    out: dict[int, list[Any]] = defaultdict(list)
    if newest_only:
        newest = (
            select(p.convoy_id, func.max(p.at).label("at"))
            .where(scope.on(p.convoy_id))
            .group_by(p.convoy_id)
            .subquery()
        )
        stmt = select(*columns).join(
            newest, (p.convoy_id == newest.c.convoy_id) & (p.at == newest.c.at)
        )
        for row in session.execute(stmt.order_by(p.id)):
            out[row.convoy_id] = [row]  # one per convoy, should two share the newest time
        return out
    stmt = select(*columns).where(scope.on(p.convoy_id)).order_by(p.at, p.id)
    for row in session.execute(stmt):
        out[row.convoy_id].append(row)
    return out


def _alerts(session: Session, scope: _Scope) -> dict[int, list[Alert]]:
    """Every alert of each convoy (open or resolved), oldest first."""
    out: dict[int, list[Alert]] = defaultdict(list)
    stmt = select(Alert).where(scope.on(col(Alert.convoy_id)))
    for alert in session.execute(stmt.order_by(col(Alert.opened_at), col(Alert.id))).scalars():
        out[alert.convoy_id].append(alert)
    return out


def _open_alerts(alerts: list[Alert]) -> list[tuple[str, str]]:
    """Unresolved alerts as (kind, subject)."""
    return [(a.kind, a.summary or a.kind) for a in alerts if a.state != AlertState.RESOLVED.value]


def _alert_marks(alerts: list[Alert]) -> list[AlertMark]:
    """Every alert of the convoy (open or resolved) with the place and duration it reports."""
    marks = []
    for alert in alerts:
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


def _track_states(
    session: Session, scope: _Scope
) -> dict[int, tuple[datetime | None, float | None]]:
    """The ETA and remaining km the tracker computed at each convoy's newest fix (if any)."""
    rows = session.execute(
        select(col(TrackState.convoy_id), col(TrackState.eta), col(TrackState.remaining_km)).where(
            scope.on(col(TrackState.convoy_id))
        )
    ).all()
    return {cid: (eta, remaining) for cid, eta, remaining in rows}


def _event_counts(session: Session, scope: _Scope) -> dict[int, dict[tuple[str, str], int]]:
    """Custody events of each convoy counted by (stage, state reached)."""
    out: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
    for cid, stage, state, n in session.execute(
        select(
            col(CustodyEvent.convoy_id), col(CustodyEvent.stage), col(CustodyEvent.to_state),
            func.count(),
        )
        .where(scope.on(col(CustodyEvent.convoy_id)))
        .group_by(col(CustodyEvent.convoy_id), col(CustodyEvent.stage), col(CustodyEvent.to_state))
    ):  # fmt: skip
        out[cid][(stage, state)] = int(n)
    return out


def _reached(by_stage: dict[tuple[str, str], int]) -> dict[str, int]:
    """How many passengers ever entered each custody state (events are unique per state)."""
    out: Counter[str] = Counter()
    for (_stage, state), n in by_stage.items():
        out[state] += n
    return dict(out)


def _stage_places(session: Session, scope: _Scope) -> dict[int, dict[str, str]]:
    """The most used custody-event location of each stage of each convoy (e.g. the
    screening hall)."""
    best: dict[int, dict[str, tuple[int, str]]] = defaultdict(dict)
    for cid, stage, location, n in session.execute(
        select(
            col(CustodyEvent.convoy_id), col(CustodyEvent.stage), col(CustodyEvent.location),
            func.count(),
        )
        .where(scope.on(col(CustodyEvent.convoy_id)))
        .where(col(CustodyEvent.location) != "")
        .group_by(col(CustodyEvent.convoy_id), col(CustodyEvent.stage), col(CustodyEvent.location))
        .order_by(col(CustodyEvent.convoy_id), col(CustodyEvent.stage), col(CustodyEvent.location))
    ):  # fmt: skip
        if stage not in best[cid] or n > best[cid][stage][0]:
            best[cid][stage] = (int(n), location)
    return {
        cid: {stage: scrub(loc) for stage, (_n, loc) in places.items()}
        for cid, places in best.items()
    }


def _stage_times(session: Session, scope: _Scope) -> dict[int, dict[str, datetime]]:
    out: dict[int, dict[str, datetime]] = defaultdict(dict)
    for cid, stage, at in session.execute(
        select(col(StageRun.convoy_id), col(StageRun.stage), col(StageRun.at)).where(
            scope.on(col(StageRun.convoy_id))
        )
    ):
        out[cid][stage] = at
    return out


Employers = list[tuple[Enterprise | None, str, dict[str, int]]]


def _per_enterprise(session: Session, scope: _Scope) -> dict[int, Employers]:
    """For each convoy: (enterprise or None, employer text, counts by custody state) per
    employer."""
    rows = session.execute(
        select(
            col(Passenger.convoy_id),
            col(Passenger.enterprise_id),
            col(Passenger.employer),
            col(Passenger.custody),
            func.count(),
        )
        .where(scope.on(col(Passenger.convoy_id)))
        .group_by(
            col(Passenger.convoy_id),
            col(Passenger.enterprise_id),
            col(Passenger.employer),
            col(Passenger.custody),
        )
    ).all()
    grouped: dict[int, dict[tuple[int | None, str], dict[str, int]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for cid, ent_id, employer, state, n in rows:
        key = (ent_id, "" if ent_id is not None else employer)
        grouped[cid][key][state] = grouped[cid][key].get(state, 0) + int(n)
    enterprises = {
        e.id: e
        for e in session.execute(
            select(Enterprise).where(
                col(Enterprise.id).in_(
                    select(col(Passenger.enterprise_id))
                    .where(scope.on(col(Passenger.convoy_id)))
                    .distinct()
                )
            )
        ).scalars()
    }
    return {
        cid: [
            (enterprises.get(ent_id) if ent_id is not None else None, employer, counts)
            for (ent_id, employer), counts in sorted(by_key.items(), key=lambda kv: str(kv[0]))
        ]
        for cid, by_key in grouped.items()
    }


def _escort_counts(session: Session, scope: _Scope) -> dict[int, int]:
    rows = session.execute(
        select(col(Assignment.convoy_id), func.count())
        .join(Escort, col(Assignment.escort_id) == col(Escort.id))
        .where(scope.on(col(Assignment.convoy_id)))
        .group_by(col(Assignment.convoy_id))
    ).all()
    return {cid: int(n) for cid, n in rows}


@dataclass(frozen=True)
class _Read:
    """What the views of the convoys of one scope draw, each part read once for all of them."""

    employers: dict[int, Employers]
    tracks: dict[int, tuple[datetime | None, float | None]]
    positions: dict[int, list[Any]]  # rows of (convoy_id, at, lat, lon, speed_kmh)
    events: dict[int, dict[tuple[str, str], int]]
    places: dict[int, dict[str, str]]
    times: dict[int, dict[str, datetime]]
    alerts: dict[int, list[Alert]]
    escorts: dict[int, int]

    @classmethod
    def of(cls, session: Session, scope: _Scope, *, full_track: bool) -> _Read:
        return cls(
            employers=_per_enterprise(session, scope),
            tracks=_track_states(session, scope),
            positions=_positions(session, scope, newest_only=not full_track),
            events=_event_counts(session, scope),
            places=_stage_places(session, scope),
            times=_stage_times(session, scope),
            alerts=_alerts(session, scope),
            escorts=_escort_counts(session, scope),
        )


def _checkpoints(convoy: Convoy, enterprises: Employers, read: _Read) -> tuple[Checkpoint, ...]:
    cid = convoy.id or 0
    by_stage = read.events.get(cid, {})
    places = read.places.get(cid, {})
    times = read.times.get(cid, {})
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
    convoy: Convoy, read: _Read, *, full_track: bool, max_track_points: int
) -> tuple[ConvoyView, Employers]:
    cid = convoy.id or 0
    enterprises = read.employers.get(cid, [])
    states: Counter[Custody] = Counter()
    for _e, _n, counts in enterprises:
        for state, k in counts.items():
            states[Custody(state)] += k
    census = Census(total=sum(states.values()), by_state=dict(states))
    eta, remaining = read.tracks.get(cid, (None, None))
    alerts = read.alerts.get(cid, [])
    view = ConvoyView.of(
        convoy,
        read.positions.get(cid, []),
        Counts.from_census(census, _reached(read.events.get(cid, {}))),
        eta=eta,
        remaining_km=remaining,
        alerts=_open_alerts(alerts),
        checkpoints=_checkpoints(convoy, enterprises, read),
        escorts=read.escorts.get(cid, 0),
        max_track_points=max_track_points,
        stage_times=read.times.get(cid, {}).items(),
        alert_marks=_alert_marks(alerts) if full_track else (),
    )
    return view, enterprises


def convoy_view(session: Session, code: str, *, max_track_points: int = 2000) -> ConvoyView:
    """One convoy for its route map: the whole track (thinned to ``max_track_points``)."""
    convoy = get_convoy(session, code)
    read = _Read.of(session, _Scope(convoy_id=convoy.id), full_track=True)
    view, _ = _view(convoy, read, full_track=True, max_track_points=max_track_points)
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
    full = max_track_points > 0
    read = _Read.of(session, _Scope(campaign_id=campaign.id), full_track=full)
    for convoy in list_convoys(session, name):
        view, enterprises = _view(
            convoy, read, full_track=full, max_track_points=max(max_track_points, 2)
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
