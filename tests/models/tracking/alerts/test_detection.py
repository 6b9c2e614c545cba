"""Delay detection (pure): each condition, its thresholds and hysteresis; stale tracks."""

from __future__ import annotations

from datetime import datetime, timedelta

from models.tracking.alerts.detection import Snapshot, TrackView, detect
from models.tracking.eta import Thresholds
from tests.models.tracking.alerts.conftest import ARR
from tests.models.tracking.conftest import DEP

TH = Thresholds(30, 60, 20, 45, 15)


def _snap(stage: str, track: TrackView | None = None, actual: datetime | None = None) -> Snapshot:
    return Snapshot(1, "B", "bus", stage, DEP, ARR, actual, 20 * 60, track)


def _track(at: datetime, **kw: float | datetime) -> TrackView:
    base: dict = dict(
        last_fix_at=at, lat=31.0, lon=117.0, off_route_km=1.0, remaining_km=800.0,
        remaining_min=600.0, eta=at + timedelta(minutes=600), still_since=at,
    )  # fmt: skip
    base.update(kw)
    return TrackView(**base)


def kinds(conds: list) -> set[str]:
    return {c.kind.value for c in conds}


def test_detect_each_condition() -> None:
    # Late departure only after the threshold.
    assert kinds(detect(_snap("screened"), DEP + timedelta(minutes=29), TH)) == set()
    assert kinds(detect(_snap("screened"), DEP + timedelta(minutes=31), TH)) == {"late_departure"}
    now = DEP + timedelta(hours=6)
    on_time = _track(now - timedelta(minutes=2))
    assert detect(_snap("in_transit", on_time, DEP), now, TH) == []
    late_eta = _track(now, eta=ARR + timedelta(minutes=61))
    assert kinds(detect(_snap("in_transit", late_eta, DEP), now, TH)) == {"late_arrival"}
    off = _track(now, off_route_km=16.0)
    assert kinds(detect(_snap("in_transit", off, DEP), now, TH)) == {"off_route"}
    # Hysteresis: an open off-route alert holds until well inside the corridor.
    back = _track(now, off_route_km=13.0)
    assert kinds(detect(_snap("in_transit", back, DEP), now, TH, open_kinds=["off_route"])) == {
        "off_route"
    }
    assert detect(_snap("in_transit", back, DEP), now, TH) == []
    stopped = _track(now, still_since=now - timedelta(minutes=50))
    assert kinds(detect(_snap("in_transit", stopped, DEP), now, TH)) == {"stopped"}
    at_destination = _track(now, still_since=now - timedelta(hours=2), remaining_km=1.0)
    assert detect(_snap("in_transit", at_destination, DEP), now, TH) == []
    silent = _track(now - timedelta(minutes=25))
    assert kinds(detect(_snap("in_transit", silent, DEP), now, TH)) == {"stale_position"}
    assert detect(_snap("arrived", silent, DEP), now, TH) == []


def test_a_stale_track_is_never_judged() -> None:
    """An old fix far off route and stopped for hours raises only 'no position', which the
    silence itself justifies, never off-route or stopped."""
    now = DEP + timedelta(hours=6)
    replay = _track(
        now - timedelta(hours=3), off_route_km=200.0, still_since=now - timedelta(hours=6)
    )
    assert kinds(detect(_snap("in_transit", replay, DEP), now, TH)) == {"stale_position"}
