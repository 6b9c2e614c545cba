"""Delay detection and the alert lifecycle, on an accelerated (injected) clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from config import Settings, reset_settings
from models.convoy.lifecycle import Stage
from models.convoy.store import assign_escort, get_convoy, upsert_escort
from models.db import session_scope
from models.errors import MonitorBusyError, TransitionError
from models.geo.geodesy import interpolate_along
from models.notify.outbox import OutboxMessage
from models.tracking.alerts import (
    Alert,
    AlertKind,
    Snapshot,
    TrackView,
    acknowledge,
    acquire_lease,
    alert_history,
    detect,
    list_alerts,
    release_lease,
    resolve,
    run_checks,
    snooze,
)
from models.tracking.eta import Thresholds, route_of
from models.tracking.fixes import Fix
from models.tracking.ingest import ingest_fix, refresh_state

SH = ZoneInfo("Asia/Shanghai")
DEP = datetime(2020, 2, 20, 14, 0, tzinfo=SH)
ARR = datetime(2020, 2, 21, 16, 0, tzinfo=SH)
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


# --- the lifecycle in the database, on an accelerated clock ------------------------------------


def _setup(make_convoy: Callable[..., str], code: str, stage: Stage = Stage.IN_TRANSIT) -> str:
    make_convoy(code, n=2)
    with session_scope() as s:
        c = get_convoy(s, code)
        e = upsert_escort(s, f"E-{code}", name="李警官", notify_url=f"json://127.0.0.1:9/{code}")
        assign_escort(s, c, e)
        c.stage = stage.value
        if stage in (Stage.DEPARTED, Stage.IN_TRANSIT):
            c.actual_departure = DEP
    return code


def _drive(code: str, t: datetime, kmh: float, settings: Settings) -> None:
    """Report the position the convoy has reached at ``t`` going at ``kmh`` (road km)."""
    with session_scope() as s:
        c = get_convoy(s, code)
        route = route_of(c.route())
        km = (t - DEP).total_seconds() / 3600 * kmh / 1.25
        frac = min(1.0, km / route.length_km)
        ingest_fix(s, c, Fix(t, *interpolate_along(route, frac), kmh), source="sim", now=t)


def _alerts(code: str | None = None, all_: bool = True) -> list[Alert]:
    with session_scope() as s:
        return [a for a, _ in list_alerts(s, all_, code)]


@pytest.fixture
def fast_escalation(settings: Settings) -> Settings:
    return reset_settings(
        alert_escalate_after_minutes=15,
        notify_roles={"duty": ["json://127.0.0.1:9/duty"], "coordinator": ["json://127.0.0.1:9/c"]},
    )


def test_monitor_flags_a_delayed_convoy_once_and_stays_quiet_for_others(
    make_convoy: Callable[..., str], fast_escalation: Settings
) -> None:
    slow = _setup(make_convoy, "BUS-SLOW")
    ok = _setup(make_convoy, "BUS-OK")
    replayed = _setup(make_convoy, "BUS-REPLAY")
    t = DEP
    opened: list = []
    replay_done = False
    while t <= DEP + timedelta(hours=8):  # a tick every 5 field minutes
        _drive(slow, t, 40, fast_escalation)
        _drive(ok, t, 80, fast_escalation)
        _drive(replayed, t, 80, fast_escalation)
        if t >= DEP + timedelta(hours=5) and not replay_done:
            # An old track from 2–4 h ago, far off route and stationary, replayed now.
            with session_scope() as s:
                c = get_convoy(s, replayed)
                for k in range(20):
                    at = t - timedelta(hours=4) + timedelta(minutes=3 * k)
                    ingest_fix(s, c, Fix(at, 40.0, 100.0, 0.0), source="old-phone", now=t)
            replay_done = True
        with session_scope() as s:
            report = run_checks(s, t, fast_escalation)
        opened += [c for c in report.changes if c.action == "opened"]
        t += timedelta(minutes=5)
    assert [(c.code, c.kind) for c in opened] == [(slow, "late_arrival")]
    assert _alerts(ok) == [] and _alerts(replayed) == []
    (alert,) = _alerts(slow)
    assert alert.escalation_level == 1 and alert.state == "open"
    with session_scope() as s:
        actions = [e.action for e in alert_history(s, alert.id)]
        assert actions == ["opened", "escalated"]
        msgs = s.execute(select(OutboxMessage).where(OutboxMessage.alert_id == alert.id)).scalars()
        by_kind: dict[str, list[str]] = {}
        for m in msgs:
            by_kind.setdefault(m.kind, []).append(m.recipient_label)
    assert sorted(by_kind["alert"]) == ["escort E-BUS-SLOW", "role duty"]
    assert by_kind["escalation"] == ["role coordinator"]


def test_acknowledged_alerts_do_not_escalate_and_snooze_delays(
    make_convoy: Callable[..., str], fast_escalation: Settings
) -> None:
    a = _setup(make_convoy, "BUS-ACK", Stage.SCREENED)
    b = _setup(make_convoy, "BUS-SNZ", Stage.SCREENED)
    t0 = DEP + timedelta(minutes=31)
    with session_scope() as s:
        report = run_checks(s, t0, fast_escalation)
    ids = {c.code: c.alert_id for c in report.changes}
    assert set(ids) == {a, b}
    with session_scope() as s:
        acknowledge(s, ids[a], "王警官", t0 + timedelta(minutes=1))
        snooze(s, ids[b], 60, "值班员", t0 + timedelta(minutes=1))
    for minutes in (10, 20, 40, 70):
        with session_scope() as s:
            report = run_checks(s, t0 + timedelta(minutes=minutes), fast_escalation)
        assert [c.action for c in report.changes if c.action == "escalated"] == []
    with session_scope() as s:
        report = run_checks(s, t0 + timedelta(minutes=77), fast_escalation)
    assert [(c.code, c.action) for c in report.changes] == [(b, "escalated")]
    with session_scope() as s:
        resolve(s, ids[a], "王警官", "departed late, checked", t0 + timedelta(minutes=80))
        with pytest.raises(TransitionError, match="already resolved"):
            acknowledge(s, ids[a], "again")
        with pytest.raises(TransitionError):
            snooze(s, ids[a], 10, "x")


def test_alerts_resolve_when_the_condition_clears_or_the_convoy_arrives(
    make_convoy: Callable[..., str], fast_escalation: Settings
) -> None:
    code = _setup(make_convoy, "BUS-RES", Stage.SCREENED)
    t = DEP + timedelta(minutes=40)
    with session_scope() as s:
        run_checks(s, t, fast_escalation)
        c = get_convoy(s, code)
        c.stage, c.actual_departure = Stage.DEPARTED.value, t
    _drive(code, t + timedelta(minutes=1), 80, fast_escalation)
    with session_scope() as s:
        report = run_checks(s, t + timedelta(minutes=2), fast_escalation)
    assert [(c.action, c.kind) for c in report.changes] == [("resolved", "late_departure")]
    # No position for a while → stale; then the convoy arrives: resolved by the arrival.
    with session_scope() as s:
        report = run_checks(s, t + timedelta(minutes=40), fast_escalation)
    assert [(c.action, c.kind) for c in report.changes] == [("opened", "stale_position")]
    with session_scope() as s:
        c = get_convoy(s, code)
        c.stage, c.actual_arrival = Stage.ARRIVED.value, t + timedelta(minutes=45)
    with session_scope() as s:
        report = run_checks(s, t + timedelta(minutes=50), fast_escalation)
    assert sorted((c.action, c.kind) for c in report.changes) == [
        ("arrived", "arrived"), ("resolved", "stale_position")
    ]  # fmt: skip
    with session_scope() as s:
        report = run_checks(s, t + timedelta(minutes=55), fast_escalation)
    assert report.changes == []  # the arrival is announced once
    assert all(a.state == "resolved" for a in _alerts(code))


def test_one_unresolved_alert_per_condition(
    make_convoy: Callable[..., str], fast_escalation: Settings
) -> None:
    code = _setup(make_convoy, "BUS-ONE", Stage.SCREENED)
    t = DEP + timedelta(hours=1)
    for k in range(5):
        with session_scope() as s:
            run_checks(s, t + timedelta(minutes=k), fast_escalation)
    assert len(_alerts(code)) == 1
    with session_scope() as s:
        resolve(s, _alerts(code)[0].id or 0, "值班员", "checked by phone", t)
    with session_scope() as s:
        report = run_checks(s, t + timedelta(minutes=10), fast_escalation)
    assert [c.action for c in report.changes] == ["opened"]  # it still holds: a new alert
    assert [a.state for a in _alerts(code)] == ["resolved", "open"]
    # The database itself refuses a second unresolved alert for the same condition.
    with pytest.raises(IntegrityError, match=r"(?i)unique"), session_scope() as s:
        c = get_convoy(s, code)
        s.add(Alert(convoy_id=c.id, kind="late_departure", active_key=f"{c.id}:late_departure",
                    opened_at=t, last_seen_at=t))  # fmt: skip
        s.flush()


def test_stopped_convoy_is_flagged(make_convoy: Callable[..., str], settings: Settings) -> None:
    code = _setup(make_convoy, "BUS-STOP")
    with session_scope() as s:
        c = get_convoy(s, code)
        lat, lon = interpolate_along(route_of(c.route()), 0.02)
        for k in range(12):  # 55 minutes without moving, fixes every 5 minutes
            at = DEP + timedelta(minutes=30 + 5 * k)
            ingest_fix(s, c, Fix(at, lat + k * 1e-5, lon, 0.0), source="p", now=at)
        assert refresh_state(s, c) is not None
    with session_scope() as s:
        report = run_checks(s, DEP + timedelta(minutes=86), settings)
    assert "stopped" in [c.kind for c in report.changes]


def test_one_monitor_per_database(settings: Settings) -> None:
    now = DEP
    with session_scope() as s:
        acquire_lease(s, "a", now, timedelta(minutes=1))
    with session_scope() as s, pytest.raises(MonitorBusyError, match="only one may run"):
        acquire_lease(s, "b", now + timedelta(seconds=30), timedelta(minutes=1))
    with session_scope() as s:  # an abandoned lease expires
        acquire_lease(s, "b", now + timedelta(minutes=2), timedelta(minutes=1))
        release_lease(s, "b")
    with session_scope() as s:
        acquire_lease(s, "a", now + timedelta(minutes=2), timedelta(minutes=1))


def test_two_monitors_starting_at_once(settings: Settings) -> None:
    """The second waits for the first's transaction, then is told the database is busy (not a
    key violation on PostgreSQL, nor 'database is locked' on SQLite)."""
    outcome: list[str] = []

    def second() -> None:
        try:
            with session_scope() as s:
                acquire_lease(s, "b", DEP, timedelta(minutes=1))
            outcome.append("acquired")
        except MonitorBusyError:
            outcome.append("busy")
        except Exception as exc:
            outcome.append(repr(exc))

    with session_scope() as s:
        acquire_lease(s, "a", DEP, timedelta(minutes=1))
        other = threading.Thread(target=second)
        other.start()
        other.join(0.5)
        assert other.is_alive()  # waiting for the first monitor to commit
    other.join(30)
    assert outcome == ["busy"]


def test_alert_kinds_have_events() -> None:
    from models.tracking.alerts import EVENT_NAMES

    assert EVENT_NAMES[AlertKind.LATE_ARRIVAL] == "convoy.delayed"
    assert EVENT_NAMES[AlertKind.OFF_ROUTE] == "convoy.off-route"
