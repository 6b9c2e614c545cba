"""The delay monitor: one APScheduler 3.x ``BackgroundScheduler`` per database.

Its jobs live in a ``SQLAlchemyJobStore`` in the application database, referenced as text
(``flows.service.monitor:monitor_job``, ``flows.service.sender:deliver_job``) under fixed ids with
``replace_existing``, ``coalesce`` and an explicit ``misfire_grace_time``, in UTC. A lease
(``models.tracking.lease``) makes sure only one scheduler runs per job store: a second
``convoy monitor`` on the same database stops with a clear message.

Each check (``tick``) is ``models.tracking.alerts.checks.run_checks`` in one transaction; every
change it makes is then emitted as a Prefect event (``convoy.delayed``, ``convoy.off-route``,
``convoy.arrived`` …) so Prefect automations can react.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from config import Settings, get_settings
from models.db import get_engine, init_db, session_scope, utcnow
from models.errors import MonitorBusyError
from models.tracking.alerts.checks import Change, TickReport, run_checks
from models.tracking.eta import make_router
from models.tracking.lease import acquire_lease, holder_id, release_lease, renew_lease

log = logging.getLogger("convoy.monitor")

MONITOR_JOB_ID = "convoy-monitor"
OUTBOX_JOB_ID = "convoy-outbox"
LEASE_JOB_ID = "convoy-monitor-lease"
JOBS_TABLE = "apscheduler_jobs"

# --- the clock (tests and rehearsals run it faster) -------------------------------------------

_clock: Callable[[], datetime] = utcnow


def clock() -> datetime:
    """The monitor's current time (real UTC time unless ``set_clock`` replaced it)."""
    return _clock()


def set_clock(fn: Callable[[], datetime] | None) -> None:
    """Replace the monitor's clock (None restores real time)."""
    global _clock
    _clock = fn or utcnow


def accelerated_clock(start: datetime, speed: float) -> Callable[[], datetime]:
    """A clock that starts at ``start`` and runs ``speed`` times faster than real time."""
    import time

    t0 = time.monotonic()
    return lambda: start + timedelta(seconds=(time.monotonic() - t0) * speed)


# --- one check --------------------------------------------------------------------------------


def emit_changes(changes: list[Change], settings: Settings | None = None) -> int:
    """Emit each change as a Prefect event; returns how many were handed to Prefect.

    The event's ``occurred`` is the real time of emission (automations react in real time);
    the field time of the change is in ``payload["at"]``. Events are best effort: the alert
    and its notifications are already committed in the database and the outbox."""
    settings = settings or get_settings()
    if not settings.prefect_events or not changes:
        return 0
    from prefect.events import emit_event

    sent = 0
    for ch in changes:
        related = []
        if ch.alert_id is not None:
            related.append(
                {
                    "prefect.resource.id": f"convoy.alert.{ch.alert_id}",
                    "prefect.resource.role": "alert",
                }
            )
        try:
            event = emit_event(
                event=ch.event,
                resource={
                    "prefect.resource.id": f"convoy.{ch.code}",
                    "prefect.resource.name": ch.code,
                },
                related=related,
                payload={
                    "action": ch.action,
                    "kind": ch.kind,
                    "alert_id": ch.alert_id,
                    "at": ch.at.isoformat(),
                    **ch.details,
                },
            )
        except Exception as exc:  # events are best effort; the alert itself is in the database
            log.warning("Prefect event %s for %s not emitted: %s", ch.event, ch.code, exc)
            continue
        sent += event is not None
    return sent


def tick(now: datetime | None = None, settings: Settings | None = None) -> TickReport:
    """One monitor check at ``now`` (default: the monitor's clock), then its Prefect events."""
    settings = settings or get_settings()
    now = now or clock()
    router = make_router(settings.router, settings.router_url, settings.router_timeout_seconds)
    with session_scope(settings) as session:
        report = run_checks(session, now, settings, router)
    emit_changes(report.changes, settings)
    if report.changes:
        log.info(
            "monitor %s: %d convoys, %d opened, %d escalated, %d resolved",
            now.isoformat(timespec="seconds"),
            report.checked,
            report.count("opened"),
            report.count("escalated"),
            report.count("resolved"),
        )
    return report


def monitor_job() -> None:
    """The scheduler's check job (text reference ``flows.service.monitor:monitor_job``)."""
    tick(clock())


# --- the scheduler ----------------------------------------------------------------------------

_holder: str | None = None


def lease_job() -> None:
    """Keep this process's lease on the monitor alive (``flows.service.monitor:lease_job``)."""
    if _holder is None:
        return
    with session_scope() as session:
        if not renew_lease(session, _holder, utcnow()):
            log.error("Another monitor took over this database; this one stops checking.")


def build_scheduler(settings: Settings | None = None) -> BackgroundScheduler:
    """The scheduler with its persistent job store and the monitor and outbox jobs."""
    settings = settings or get_settings()
    engine = init_db(settings)
    grace = settings.monitor_misfire_grace_seconds
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        executors={"default": ThreadPoolExecutor(max_workers=2)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
        timezone=UTC,
    )
    common: dict[str, Any] = {
        "trigger": "interval",
        "replace_existing": True,
        "coalesce": True,
        "max_instances": 1,
        "misfire_grace_time": grace,
    }
    scheduler.add_job(
        "flows.service.monitor:monitor_job",
        id=MONITOR_JOB_ID,
        name="check active convoys for delays",
        seconds=settings.monitor_interval_minutes * 60,
        **common,
    )
    scheduler.add_job(
        "flows.service.sender:deliver_job",
        id=OUTBOX_JOB_ID,
        name="deliver queued notifications",
        seconds=settings.outbox_poll_seconds,
        **common,
    )
    scheduler.add_job(
        "flows.service.monitor:lease_job",
        id=LEASE_JOB_ID,
        name="renew the monitor lease",
        seconds=_lease_seconds(settings) / 3,
        **common,
    )
    return scheduler


def _lease_seconds(settings: Settings) -> float:
    return max(30.0, 3 * min(settings.monitor_interval_minutes * 60, settings.outbox_poll_seconds))


class Monitor:
    """The running monitor: holds the lease and the scheduler; ``stop`` releases both."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.holder = holder_id()
        self.scheduler: BackgroundScheduler | None = None

    def start(self) -> Monitor:
        global _holder
        expires = timedelta(seconds=_lease_seconds(self.settings))
        with session_scope(self.settings) as session:
            acquire_lease(session, self.holder, utcnow(), expires)
        _holder = self.holder
        try:
            self.scheduler = build_scheduler(self.settings)
            self.scheduler.start()
        except BaseException:
            self._release()
            raise
        return self

    def _release(self) -> None:
        global _holder
        with session_scope(self.settings) as session:
            release_lease(session, self.holder)
        if _holder == self.holder:
            _holder = None

    def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.scheduler = None
        self._release()

    def __enter__(self) -> Monitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_monitor(settings: Settings | None = None, stop: threading.Event | None = None) -> None:
    """Run the monitor until ``stop`` is set or the process is interrupted (``convoy monitor``)."""
    stop = stop or threading.Event()
    with Monitor(settings):
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass


def jobs_in_store(settings: Settings | None = None) -> list[str]:
    """Ids of the jobs persisted in the database's job store."""
    from sqlalchemy import inspect, text

    engine = get_engine(settings)
    if JOBS_TABLE not in inspect(engine).get_table_names():
        return []
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text(f"SELECT id FROM {JOBS_TABLE} ORDER BY id"))]


__all__ = [
    "Monitor",
    "MonitorBusyError",
    "accelerated_clock",
    "build_scheduler",
    "clock",
    "emit_changes",
    "jobs_in_store",
    "monitor_job",
    "run_monitor",
    "set_clock",
    "tick",
]
