"""Storing fixes, and the live track state the delay monitor reads.

* Every fix is stored in WGS-84 (``models.convoy.tables.Position``). A repeat of the same fix (same
  convoy, time and source) is ignored; a fix older than the newest one is kept in the history
  but does not move the live state (out of order).
* The **track state** (one row per convoy) is derived from the stored positions: the newest fix,
  its progress along the planned route, the ETA computed at that fix, and since when the convoy
  has not moved. It is recomputed on every position and can be rebuilt at any time.
* A **stale** fix (older than the mode's stale window when it arrives, e.g. a replayed track) is
  stored but can never raise an alert: the monitor judges only fixes fresh at its own clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, bindparam, func, select, type_coerce
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from config import Settings, get_settings
from config.rules import Rules
from models.convoy.store import get_convoy
from models.convoy.tables import Convoy, Position
from models.db import in_chunks, insert_ignore, utcnow
from models.errors import ValidationError
from models.geo.datums import Datum, to_wgs84
from models.geo.geodesy import Polyline, along_track_km, locate_on_route, sphere_distance_km
from models.tracking.eta import Router, progress, route_of, speed_profile, thresholds
from models.tracking.fixes import Fix, check_fix
from models.tracking.tables import TrackingCursor, TrackState

_POS = Position.__table__  # type: ignore[attr-defined]
# How many recent positions are read to find since when a convoy has not moved.
_STOP_WINDOW_ROWS = 500


class IngestStatus(StrEnum):
    LIVE = "live"  # the newest fix: the track state moved
    DUPLICATE = "duplicate"  # already stored
    OUT_OF_ORDER = "out_of_order"  # older than the newest fix: history only
    STALE = "stale"  # older than the stale window when it came: history only, never alerts


@dataclass(frozen=True, slots=True)
class IngestResult:
    status: IngestStatus
    state: TrackState | None = None


@dataclass
class ImportResult:
    """What a track import did. ``rejected`` lists (line or point number, reason)."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    stale: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def _rules(settings: Settings | None) -> Rules:
    return (settings or get_settings()).rule_set


def _position_row(convoy: Convoy, fix: Fix, source: str, now: datetime) -> dict[str, Any]:
    """The ``position`` row of one fix (what ``ingest_fix`` and ``import_fixes`` store)."""
    return {
        "convoy_id": convoy.id,
        "at": fix.at,
        "lat": fix.lat,
        "lon": fix.lon,
        "speed_kmh": fix.speed_kmh,
        "source": source,
        "recorded_at": now,
    }


def _insert_positions(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert positions, ignoring repeats of (convoy, time, source); returns rows added."""
    added = 0
    stmt = insert_ignore(session, _POS)
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        added += int(session.connection().execute(stmt.values(chunk)).rowcount or 0)
    return added


def ingest_fix(
    session: Session,
    convoy: Convoy,
    fix: Fix,
    *,
    source: str,
    now: datetime | None = None,
    settings: Settings | None = None,
    router: Router | None = None,
) -> IngestResult:
    """Store one fix and, when it is the newest fresh one, recompute the track state and ETA."""
    now = now or utcnow()
    rules = _rules(settings)
    check_fix(fix, now, rules)
    if not _insert_positions(session, [_position_row(convoy, fix, source, now)]):
        return IngestResult(IngestStatus.DUPLICATE)
    stale_after = timedelta(minutes=thresholds(rules, convoy.mode).stale_position_min)
    state = session.get(TrackState, convoy.id)
    if state is not None and fix.at <= state.last_fix_at:
        return IngestResult(IngestStatus.OUT_OF_ORDER, state)
    state = refresh_state(session, convoy, settings=settings, router=router)
    if fix.at < now - stale_after:
        return IngestResult(IngestStatus.STALE, state)
    return IngestResult(IngestStatus.LIVE, state)


def import_fixes(
    session: Session,
    convoy: Convoy,
    items: Sequence[tuple[int, Fix | str]],
    *,
    source: str,
    datum: Datum = "wgs84",
    now: datetime | None = None,
    settings: Settings | None = None,
    router: Router | None = None,
) -> ImportResult:
    """Store a batch of fixes (bad ones are reported, not stored) and refresh the track once."""
    now = now or utcnow()
    rules = _rules(settings)
    stale_before = now - timedelta(minutes=thresholds(rules, convoy.mode).stale_position_min)
    result = ImportResult(read=len(items))
    rows: list[dict[str, Any]] = []
    fresh: set[datetime] = set()
    for where, item in items:
        if isinstance(item, str):
            result.rejected.append((where, item))
            continue
        lat, lon = to_wgs84(item.lat, item.lon, datum)
        fix = Fix(item.at, lat, lon, item.speed_kmh)
        try:
            check_fix(fix, now, rules)
        except ValidationError as exc:
            result.rejected.append((where, str(exc).rstrip(".")))
            continue
        rows.append(_position_row(convoy, fix, source, now))
        if fix.at >= stale_before:
            fresh.add(fix.at)
    # Repeats inside the file are duplicates too.
    unique = list({r["at"]: r for r in rows}.values())
    result.stored = _insert_positions(session, unique)
    result.duplicates = len(rows) - result.stored
    result.stale = len({r["at"] for r in unique}) - len(fresh)
    if result.stored:
        refresh_state(session, convoy, settings=settings, router=router)
    return result


def refresh_state(
    session: Session,
    convoy: Convoy,
    *,
    settings: Settings | None = None,
    router: Router | None = None,
) -> TrackState | None:
    """Recompute the convoy's track state from its stored positions (None without any)."""
    rows = _recent_positions(session, convoy.id)
    if not rows:
        return None
    state = session.get(TrackState, convoy.id)
    values = state_values(convoy, rows, _rules(settings), router)
    values["last_position_id"] = max(
        values["last_position_id"], state.last_position_id if state else 0
    )
    if state is None:
        state = TrackState(convoy_id=convoy.id, **values)  # type: ignore[arg-type]
        session.add(state)
    else:
        for key, value in values.items():
            setattr(state, key, value)
    session.flush()
    return state


# The columns the track state is computed from. Times are read as plain (naive UTC) datetimes and
# made timezone-aware only where used: a window holds up to _STOP_WINDOW_ROWS rows, of which a
# moving convoy's state needs a handful.
_WINDOW = (
    _POS.c.id,
    type_coerce(_POS.c.at, DateTime()).label("at"),
    _POS.c.lat,
    _POS.c.lon,
    _POS.c.speed_kmh,
    _POS.c.source,
)


_RECENT = (
    select(*_WINDOW)
    .where(_POS.c.convoy_id == bindparam("convoy_id"))
    .order_by(_POS.c.at.desc(), _POS.c.id.desc())
    .limit(_STOP_WINDOW_ROWS)
)


def _recent_positions(session: Session, convoy_id: int | None) -> Sequence[Any]:
    """The convoy's newest positions, newest first (at most ``_STOP_WINDOW_ROWS``)."""
    return session.connection().execute(_RECENT, {"convoy_id": convoy_id}).all()


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def state_values(
    convoy: Convoy, rows: Sequence[Any], rules: Rules, router: Router | None = None
) -> dict[str, Any]:
    """The track state's columns computed from a convoy's newest positions (newest first, as
    ``_recent_positions`` reads them): the newest fix, its progress and ETA along the planned
    route, since when the convoy has not moved and the speed it made good lately."""
    newest = rows[0]
    radius = rules.tracking.stop_radius_km
    here = (newest.lat, newest.lon)
    still_since = newest.at
    for r in rows[1:]:
        if sphere_distance_km(here, (r.lat, r.lon)) > radius:
            break
        still_since = r.at
    route = route_of(convoy.route())
    profile = speed_profile(rules, convoy.mode)
    located = locate_on_route(here, route)
    observed = _observed_kmh(rows, located[1], route, profile.road_factor, rules)
    weight = rules.tracking.observed_speed_weight
    prog = progress(route, here, profile, router, observed, weight, located)
    last_fix_at = _utc(newest.at)
    return {
        "last_fix_at": last_fix_at,
        "lat": newest.lat,
        "lon": newest.lon,
        "speed_kmh": newest.speed_kmh,
        "source": newest.source,
        "along_km": prog.along_km,
        "off_route_km": prog.off_route_km,
        "remaining_km": prog.remaining_km,
        "remaining_min": prog.remaining_min,
        "eta": last_fix_at + timedelta(minutes=prog.remaining_min),
        "still_since": _utc(still_since),
        "observed_kmh": observed,
        "last_position_id": newest.id,
        "updated_at": utcnow(),
    }


def _observed_kmh(
    rows: Sequence[Any], newest_along_km: float, route: Polyline, road_factor: float, rules: Rules
) -> float | None:
    """Travelled km/h made good along the route between the newest fix (``newest_along_km``
    along it) and one about ``observed_window_min`` earlier (None when the fixes span less than
    half of that)."""
    window = timedelta(minutes=rules.tracking.observed_window_min)
    newest = rows[0]
    older = None
    for r in rows[1:]:
        older = r
        if newest.at - r.at >= window:
            break
    if older is None or newest.at - older.at < window / 2:
        return None
    hours = (newest.at - older.at).total_seconds() / 3600.0
    made = newest_along_km - along_track_km((older.lat, older.lon), route)
    return max(0.0, made * road_factor / hours)


def catch_up(
    session: Session, *, settings: Settings | None = None, router: Router | None = None
) -> int:
    """Fold positions stored by any path (CLI check-ins, the simulator, imports) since the last
    call into the track states. Returns how many convoys were refreshed.

    Each convoy's state is computed from its newest positions; the states are then written
    with one executemany for those that changed and one for those that are new. The cursor
    stays locked until the transaction ends; while another catch-up holds it, this one folds
    nothing and returns 0 (see ``_claim_cursor``)."""
    cursor = _claim_cursor(session)
    if cursor is None:
        return 0
    since = cursor.position_id
    rows = session.execute(
        select(_POS.c.convoy_id, func.max(_POS.c.id))
        .where(_POS.c.id > since)
        .group_by(_POS.c.convoy_id)
    ).all()
    if not rows:
        return 0
    newest = max(m for _, m in rows)
    folded = _folded_ids(session, [c for c, _ in rows])
    # Convoys whose new positions ingest has not already folded in, loaded in one query.
    ids = [
        convoy_id
        for convoy_id, max_id in rows
        if convoy_id not in folded or folded[convoy_id] < max_id
    ]
    convoys = {
        c.id: c for c in session.execute(select(Convoy).where(col(Convoy.id).in_(ids))).scalars()
    }
    rules = _rules(settings)
    changed: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    for convoy_id in ids:
        convoy = convoys.get(convoy_id)
        if convoy is None:
            continue
        recent = _recent_positions(session, convoy_id)
        if not recent:
            continue
        values = state_values(convoy, recent, rules, router)
        values["convoy_id"] = convoy_id
        if convoy_id in folded:
            values["last_position_id"] = max(values["last_position_id"], folded[convoy_id])
            changed.append(values)
        else:
            added.append(values)
    _write_states(session, changed, added)
    cursor.position_id = max(cursor.position_id, newest)
    session.flush()
    return len(changed) + len(added)


_CURSOR = (
    select(TrackingCursor)
    .where(col(TrackingCursor.name) == "positions")
    .with_for_update(skip_locked=True)
    .execution_options(populate_existing=True)
)


def _claim_cursor(session: Session) -> TrackingCursor | None:
    """The positions cursor, locked until this transaction ends; None while another catch-up
    holds it (that one folds what this one would, the next one the rest). It never waits:
    catch-ups run inside transactions that already lock a convoy (a step, a check-in), and
    waiting for one that needs that convoy's row would deadlock (PostgreSQL; SQLite has one
    writer). The first one makes the cursor in a transaction of its own (PostgreSQL), so that
    no other waits on an insert it has not committed."""
    cursor = session.execute(_CURSOR).scalars().first()
    if cursor is not None or session.get(TrackingCursor, "positions") is not None:
        return cursor
    table = TrackingCursor.__table__  # type: ignore[attr-defined]
    bind = session.get_bind()
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
        with bind.connect() as conn:
            conn.execute(insert_ignore(conn, table).values(name="positions", position_id=0))
            conn.commit()
    else:
        session.connection().execute(
            insert_ignore(session, table).values(name="positions", position_id=0)
        )
    return session.execute(_CURSOR).scalars().first()


def _folded_ids(session: Session, convoy_ids: list[int]) -> dict[int, int]:
    """The last position id folded into each of these convoys' track states (those that have
    one)."""
    t = TrackState.__table__.c  # type: ignore[attr-defined]
    out: dict[int, int] = {}
    for chunk in in_chunks(convoy_ids):
        found = session.connection().execute(
            select(t.convoy_id, t.last_position_id).where(t.convoy_id.in_(chunk))
        )
        out.update((int(cid), int(last)) for cid, last in found)
    return out


def _write_states(
    session: Session, changed: list[dict[str, Any]], added: list[dict[str, Any]]
) -> None:
    """Write computed track states: updates and inserts, one executemany each. Track states
    already loaded in the session are expired so that they are read again."""
    if not (changed or added):
        return
    session.flush()
    table = TrackState.__table__  # type: ignore[attr-defined]
    conn = session.connection()
    if changed:
        keys = [k for k in changed[0] if k != "convoy_id"]
        conn.execute(
            table.update()
            .where(table.c.convoy_id == bindparam("_convoy_id"))
            .values({k: bindparam(k) for k in keys}),
            [{**{k: v[k] for k in keys}, "_convoy_id": v["convoy_id"]} for v in changed],
        )
    if added:
        conn.execute(table.insert(), added)
    written = {v["convoy_id"] for v in changed} | {v["convoy_id"] for v in added}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, TrackState) and obj.convoy_id in written:
            session.expire(obj)


def track_states(session: Session, convoy_ids: Iterable[int]) -> dict[int, TrackState]:
    ids = list(convoy_ids)
    if not ids:
        return {}
    return {
        s.convoy_id: s
        for s in session.execute(
            select(TrackState).where(TrackState.convoy_id.in_(ids))  # type: ignore[attr-defined]
        ).scalars()
    }


def track_summary(session: Session, code: str, limit: int = 10) -> dict[str, Any]:
    """Positions, ETA and remaining distance of one convoy (no personal data)."""
    convoy = get_convoy(session, code)
    state = session.get(TrackState, convoy.id)
    points = list(
        session.execute(
            select(Position)
            .where(Position.convoy_id == convoy.id)  # type: ignore[arg-type]
            .order_by(Position.at.desc())  # type: ignore[attr-defined]
            .limit(limit)
        ).scalars()
    )[::-1]
    total = session.execute(
        select(func.count()).where(Position.convoy_id == convoy.id)  # type: ignore[arg-type]
    ).scalar_one()
    out: dict[str, Any] = {
        "code": convoy.code,
        "mode": convoy.mode,
        "stage": convoy.stage,
        "planned_arrival": convoy.planned_arrival.isoformat(),
        "positions": total,
        "last": None,
        "eta": None,
        "late_minutes": None,
        "remaining_km": None,
        "off_route_km": None,
        "recent": [
            {"at": p.at.isoformat(), "lat": p.lat, "lon": p.lon, "speed_kmh": p.speed_kmh,
             "source": p.source}
            for p in points
        ],
    }  # fmt: skip
    if state is not None:
        out.update(
            last={"at": state.last_fix_at.isoformat(), "lat": state.lat, "lon": state.lon},
            eta=state.eta.isoformat(),
            late_minutes=round((state.eta - convoy.planned_arrival).total_seconds() / 60),
            remaining_km=round(state.remaining_km, 1),
            off_route_km=round(state.off_route_km, 2),
        )
    return out
