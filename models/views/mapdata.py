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

from sqlalchemy import func, select
from sqlmodel import Session, col

from models.convoy.lifecycle import Census, Custody, Stage
from models.convoy.store import convoy_escorts, get_campaign, get_convoy, list_convoys
from models.convoy.tables import Convoy, CustodyEvent, Enterprise, Passenger, Position, StageRun
from models.geo.datums import LatLon
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
