"""The alert lifecycle: acknowledging stops escalation, a snooze delays it, one unresolved
alert per condition."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from config import Settings
from models.convoy.lifecycle import Stage
from models.convoy.store import get_convoy
from models.db import session_scope
from models.errors import TransitionError
from models.tracking.alerts.checks import run_checks
from models.tracking.alerts.lifecycle import acknowledge, resolve, snooze
from models.tracking.alerts.tables import Alert
from tests.models.tracking.alerts.conftest import alerts_of, setup_convoy
from tests.models.tracking.conftest import DEP


def test_acknowledged_alerts_do_not_escalate_and_snooze_delays(
    make_convoy: Callable[..., str], fast_escalation: Settings
) -> None:
    a = setup_convoy(make_convoy, "BUS-ACK", Stage.SCREENED)
    b = setup_convoy(make_convoy, "BUS-SNZ", Stage.SCREENED)
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


def test_one_unresolved_alert_per_condition(
    make_convoy: Callable[..., str], fast_escalation: Settings
) -> None:
    code = setup_convoy(make_convoy, "BUS-ONE", Stage.SCREENED)
    t = DEP + timedelta(hours=1)
    for k in range(5):
        with session_scope() as s:
            run_checks(s, t + timedelta(minutes=k), fast_escalation)
    assert len(alerts_of(code)) == 1
    with session_scope() as s:
        resolve(s, alerts_of(code)[0].id or 0, "值班员", "checked by phone", t)
    with session_scope() as s:
        report = run_checks(s, t + timedelta(minutes=10), fast_escalation)
    assert [c.action for c in report.changes] == ["opened"]  # it still holds: a new alert
    assert [a.state for a in alerts_of(code)] == ["resolved", "open"]
    # The database itself refuses a second unresolved alert for the same condition.
    with pytest.raises(IntegrityError, match=r"(?i)unique"), session_scope() as s:
        c = get_convoy(s, code)
        s.add(Alert(convoy_id=c.id, kind="late_departure", active_key=f"{c.id}:late_departure",
                    opened_at=t, last_seen_at=t))  # fmt: skip
        s.flush()
