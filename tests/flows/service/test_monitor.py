"""The APScheduler monitor on an accelerated clock, its job store, and its Prefect events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from config import Settings, reset_settings
from flows.service.monitor import (
    LEASE_JOB_ID,
    MONITOR_JOB_ID,
    OUTBOX_JOB_ID,
    Monitor,
    accelerated_clock,
    jobs_in_store,
    set_clock,
    tick,
)
from models.convoy.lifecycle import Stage
from models.convoy.store import get_convoy
from models.db import session_scope
from models.errors import MonitorBusyError
from models.tracking.alerts.lifecycle import list_alerts

SH = ZoneInfo("Asia/Shanghai")
DEP = datetime(2020, 2, 20, 14, 0, tzinfo=SH)


@pytest.fixture
def fast(settings: Settings) -> Iterator[Settings]:
    s = reset_settings(
        monitor_interval_minutes=0.005,  # 0.3 s
        outbox_poll_seconds=0.3,
        alert_escalate_after_minutes=15,
        prefect_events=False,
    )
    yield s
    set_clock(None)


def test_scheduler_runs_checks_on_an_accelerated_clock(
    make_convoy: Callable[..., str], fast: Settings
) -> None:
    code = make_convoy("BUS-MON1", n=2)
    with session_scope() as s:
        get_convoy(s, code).stage = Stage.SCREENED.value
    # Field time runs 600× faster: 20 field minutes after the departure that did not happen,
    # the 30-minute late-departure threshold passes within a few real seconds.
    set_clock(accelerated_clock(DEP + timedelta(minutes=20), 600))
    with Monitor(fast) as mon:
        assert mon.scheduler is not None
        jobs = {j.id: j for j in mon.scheduler.get_jobs()}
        assert set(jobs) == {MONITOR_JOB_ID, OUTBOX_JOB_ID, LEASE_JOB_ID}
        job = jobs[MONITOR_JOB_ID]
        assert job.coalesce and job.misfire_grace_time == fast.monitor_misfire_grace_seconds
        assert str(job.trigger.timezone) == "UTC"
        assert set(jobs_in_store(fast)) == {MONITOR_JOB_ID, OUTBOX_JOB_ID, LEASE_JOB_ID}
        # One scheduler per job store: a second monitor on the same database is refused.
        with pytest.raises(MonitorBusyError, match="only one may run"):
            Monitor(fast).start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with session_scope() as s:
                found = list_alerts(s, True, code)
            if any(a.escalation_level for a, _ in found):
                break
            time.sleep(0.2)
    assert len(found) == 1  # flagged exactly once over many checks
    alert = found[0][0]
    assert alert.kind == "late_departure" and alert.escalation_level == 1
    # Jobs persist across restarts (replace_existing keeps one copy of each).
    assert sorted(jobs_in_store(fast)) == sorted([LEASE_JOB_ID, MONITOR_JOB_ID, OUTBOX_JOB_ID])
    with Monitor(fast) as mon:  # the lease was released on stop: a new monitor may start
        assert mon.scheduler is not None and len(mon.scheduler.get_jobs()) == 3


def test_alert_changes_are_prefect_events(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter
    from prefect.events.worker import EventsWorker

    s_ = reset_settings(prefect_events=True)
    code = make_convoy("BUS-EVT", n=2)
    with session_scope() as s:
        c = get_convoy(s, code)
        c.stage, c.actual_departure = Stage.IN_TRANSIT.value, DEP
    report = tick(DEP + timedelta(hours=2), s_)  # no position since departure
    assert {c.event for c in report.changes} == {"convoy.position-stale"}
    with session_scope() as s:
        c = get_convoy(s, code)
        c.stage, c.actual_arrival = Stage.ARRIVED.value, DEP + timedelta(hours=25)
    report = tick(DEP + timedelta(hours=26), s_)
    assert {c.event for c in report.changes} == {"convoy.alert.resolved", "convoy.arrived"}
    EventsWorker.drain_all()

    async def names() -> set[str]:
        flt = EventFilter(event=EventNameFilter(prefix=["convoy."]))
        async with get_client() as client:
            page = await client.read_events(filter=flt, limit=50)
        return {e.event for e in page.events if e.resource.id == f"convoy.{code}"}

    want = {"convoy.position-stale", "convoy.alert.resolved", "convoy.arrived"}
    deadline = time.monotonic() + 20
    got: set[str] = set()
    while time.monotonic() < deadline and not want <= got:
        got = asyncio.run(names())
        time.sleep(0.5)
    assert want <= got
