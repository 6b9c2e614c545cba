"""Storing fixes: live, duplicate, out-of-order and stale fixes; impossible ones; catch-up."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from config import Settings
from models.convoy.checkins import record_checkin
from models.convoy.store import get_convoy
from models.convoy.tables import Position
from models.db import session_scope
from models.errors import ValidationError
from models.tracking.fixes import Fix
from models.tracking.ingest import IngestStatus, catch_up, ingest_fix, refresh_state
from models.tracking.tables import TrackingCursor, TrackState
from tests.models.tracking.conftest import DEP, point_along


def test_ingest_live_duplicate_out_of_order_stale(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-TR1", n=2)
    now = DEP + timedelta(hours=2)
    with session_scope() as s:
        c = get_convoy(s, code)
        lat, lon = point_along(code, 0.1)
        first = ingest_fix(s, c, Fix(now, lat, lon, 80.0), source="t", now=now)
        assert first.status is IngestStatus.LIVE and first.state is not None
        eta1, km1 = first.state.eta, first.state.remaining_km
        assert ingest_fix(s, c, Fix(now, lat, lon), source="t", now=now).status is (
            IngestStatus.DUPLICATE
        )
        older = ingest_fix(
            s, c, Fix(now - timedelta(minutes=5), *point_along(code, 0.09)), source="t", now=now
        )
        assert older.status is IngestStatus.OUT_OF_ORDER
        assert s.get(TrackState, c.id).last_fix_at == now  # the state did not move back
        lat2, lon2 = point_along(code, 0.2)
        later = now + timedelta(hours=2)
        second = ingest_fix(s, c, Fix(later, lat2, lon2), source="t", now=later)
        assert second.state is not None and second.state.remaining_km < km1
        assert second.state.eta != eta1  # recomputed on every position
        # A fix older than the bus stale window (20 min) when it comes: kept, flagged.
        stale = ingest_fix(
            s, c, Fix(later + timedelta(minutes=1), lat2, lon2), source="t",
            now=later + timedelta(hours=1),
        )  # fmt: skip
        assert stale.status is IngestStatus.STALE
        n = s.execute(select(func.count()).where(Position.convoy_id == c.id)).scalar_one()
        assert n == 4


def test_ingest_refuses_impossible_fixes(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-TR2", n=1)
    now = DEP
    with session_scope() as s:
        c = get_convoy(s, code)
        with pytest.raises(ValidationError, match="server clock"):
            ingest_fix(s, c, Fix(now + timedelta(hours=1), 30.0, 120.0), source="t", now=now)
        with pytest.raises(ValidationError, match="valid latitude"):
            ingest_fix(s, c, Fix(now, 95.0, 120.0), source="t", now=now)
        with pytest.raises(ValidationError, match="without a fix"):
            ingest_fix(s, c, Fix(now, 0.0, 0.0), source="t", now=now)


def test_catch_up_folds_in_cli_checkin_positions(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-TR5", n=1)
    lat, lon = point_along(code, 0.3)
    with session_scope() as s:
        record_checkin(s, code, "position", {"lat": lat, "lon": lon}, at=DEP + timedelta(hours=6))
    with session_scope() as s:
        assert catch_up(s) == 1
        state = s.get(TrackState, get_convoy(s, code).id)
        assert state is not None and state.along_km > 300
        assert catch_up(s) == 0


def test_catch_ups_at_once_take_turns_on_the_cursor(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    """Several catch-ups in concurrent transactions (a simulated campaign checks each convoy
    from its escorts' thread), the very first ones included: no error (on PostgreSQL two first
    catch-ups both inserted the cursor: a unique violation), no waiting on each other (one
    holds the cursor, the others skip), and the cursor ends at the newest position."""
    codes = [make_convoy(f"BUS-TC{i}", n=1, seed=i) for i in range(4)]
    errors: list[str] = []

    def fold(start: threading.Barrier) -> None:
        try:
            start.wait()
            with session_scope() as s:
                catch_up(s)
        except Exception as exc:  # every thread's error is the finding
            errors.append(str(exc))

    for round_ in range(3):
        with session_scope() as s:
            for code in codes:
                lat, lon = point_along(code, 0.2 + 0.01 * round_)
                at = DEP + timedelta(hours=4, minutes=5 * round_)
                record_checkin(s, code, "position", {"lat": lat, "lon": lon}, at=at)
        start = threading.Barrier(len(codes))
        threads = [threading.Thread(target=fold, args=(start,)) for _ in codes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    with session_scope() as s:
        cursor = s.get(TrackingCursor, "positions")
        assert cursor is not None
        assert cursor.position_id == s.execute(select(func.max(Position.id))).scalar_one()


def test_catch_up_writes_the_state_refresh_state_computes(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    """The monitor's bulk fold (new states inserted, known ones updated in one executemany)
    gives the same track state as recomputing it for the one convoy, with a stop in it."""
    moving, stopped = make_convoy("BUS-TR6", n=1), make_convoy("BUS-TR7", n=1)
    with session_scope() as s:
        for k in range(12):  # 3-minute fixes: one convoy moves, the other stands still
            at = DEP + timedelta(hours=4, minutes=3 * k)
            record_checkin(s, moving, "position", dict(zip(("lat", "lon"),
                           point_along(moving, 0.2 + 0.002 * k), strict=True)), at=at)  # fmt: skip
            record_checkin(s, stopped, "position", dict(zip(("lat", "lon"),
                           point_along(stopped, 0.3), strict=True)), at=at)  # fmt: skip
    columns = [c for c in TrackState.model_fields if c != "updated_at"]

    def states() -> dict[str, dict[str, object]]:
        with session_scope() as s:
            return {
                code: {k: getattr(s.get(TrackState, get_convoy(s, code).id), k) for k in columns}
                for code in (moving, stopped)
            }

    for _ in range(2):  # first the insert path, then (after one more fix each) the update path
        with session_scope() as s:
            assert catch_up(s) == 2
        folded = states()
        with session_scope() as s:
            for code in (moving, stopped):
                refresh_state(s, get_convoy(s, code))
        assert states() == folded
        assert folded[stopped]["still_since"] == DEP + timedelta(hours=4)
        assert folded[moving]["still_since"] == folded[moving]["last_fix_at"]
        assert folded[moving]["observed_kmh"] is not None
        with session_scope() as s:
            at = DEP + timedelta(hours=5)
            record_checkin(s, moving, "position", dict(zip(("lat", "lon"),
                           point_along(moving, 0.23), strict=True)), at=at)  # fmt: skip
            record_checkin(s, stopped, "position", dict(zip(("lat", "lon"),
                           point_along(stopped, 0.3), strict=True)), at=at)  # fmt: skip
