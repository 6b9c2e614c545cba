"""One monitor check on an accelerated (injected) clock: alerts opened once, escalated,
resolved when the condition clears or the convoy arrives; arrivals announced once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from config import Settings
from models.convoy.checkins import record_position
from models.convoy.lifecycle import Stage
from models.convoy.store import get_convoy
from models.db import session_scope
from models.geo.geodesy import interpolate_along
from models.notify.outbox import OutboxMessage
from models.tracking.alerts.checks import EVENT_NAMES, checking, run_checks
from models.tracking.alerts.lifecycle import alert_history
from models.tracking.alerts.tables import AlertKind
from models.tracking.eta import route_of
from models.tracking.fixes import Fix
from models.tracking.ingest import ingest_fix, refresh_state, track_states
from tests.models.tracking.alerts.conftest import alerts_of, drive, setup_convoy
from tests.models.tracking.conftest import DEP, point_along


def test_monitor_flags_a_delayed_convoy_once_and_stays_quiet_for_others(
    make_convoy: Callable[..., str], fast_escalation: Settings
) -> None:
    slow = setup_convoy(make_convoy, "BUS-SLOW")
    ok = setup_convoy(make_convoy, "BUS-OK")
    replayed = setup_convoy(make_convoy, "BUS-REPLAY")
    t = DEP
    opened: list = []
    replay_done = False
    while t <= DEP + timedelta(hours=8):  # a tick every 5 field minutes
        drive(slow, t, 40, fast_escalation)
        drive(ok, t, 80, fast_escalation)
        drive(replayed, t, 80, fast_escalation)
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
    assert alerts_of(ok) == [] and alerts_of(replayed) == []
    (alert,) = alerts_of(slow)
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


def test_alerts_resolve_when_the_condition_clears_or_the_convoy_arrives(
    make_convoy: Callable[..., str], fast_escalation: Settings
) -> None:
    code = setup_convoy(make_convoy, "BUS-RES", Stage.SCREENED)
    t = DEP + timedelta(minutes=40)
    with session_scope() as s:
        run_checks(s, t, fast_escalation)
        c = get_convoy(s, code)
        c.stage, c.actual_departure = Stage.DEPARTED.value, t
    drive(code, t + timedelta(minutes=1), 80, fast_escalation)
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
    assert all(a.state == "resolved" for a in alerts_of(code))


def test_stopped_convoy_is_flagged(make_convoy: Callable[..., str], settings: Settings) -> None:
    code = setup_convoy(make_convoy, "BUS-STOP")
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


def test_alert_kinds_have_events() -> None:
    assert EVENT_NAMES[AlertKind.LATE_ARRIVAL] == "convoy.delayed"
    assert EVENT_NAMES[AlertKind.OFF_ROUTE] == "convoy.off-route"


def test_a_check_folds_positions_first_and_keeps_what_the_caller_does_in_its_transaction(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    """``checking``: new positions are folded (and committed) before the check; what is done in
    the block (an acknowledgement, the desk's check) belongs to the check's transaction."""
    code = setup_convoy(make_convoy, "BUS-TWO", Stage.SCREENED)  # never left: late departure
    with session_scope() as s:  # stored as a check-in stores it: not folded yet
        c = get_convoy(s, code)
        record_position(s, c, DEP + timedelta(minutes=5), *point_along(code, 0.0), 0.0)
        cid = c.id or 0
    at = DEP + timedelta(minutes=40)
    with pytest.raises(RuntimeError), checking(at, settings) as (_, report):
        assert report.refreshed == 1
        assert [(ch.action, ch.kind) for ch in report.changes] == [("opened", "late_departure")]
        raise RuntimeError("the caller failed")
    with session_scope() as s:
        assert cid in track_states(s, [cid])  # the fold was committed on its own
    assert alerts_of(code) == []  # the check's alert went with the failed block
    with checking(at, settings) as (_, again):
        assert again.refreshed == 0  # nothing new to fold
    assert [(ch.action, ch.kind) for ch in again.changes] == [("opened", "late_departure")]
    assert [a.kind for a in alerts_of(code)] == ["late_departure"]
