"""The delay monitor: one APScheduler 3.x ``BackgroundScheduler`` per database.

Its jobs live in a ``SQLAlchemyJobStore`` in the application database, referenced as text
(``flows.service.monitor:monitor_job``, ``flows.service.sender:deliver_job``) under fixed ids with
``replace_existing``, ``coalesce`` and an explicit ``misfire_grace_time``, in UTC. Two leases
(``models.tracking.lease``) make sure only one scheduler runs per job store and only one sender
delivers: the monitor holds the ``monitor`` and the ``sender`` role; a second ``convoy monitor``,
a ``convoy monitor --once`` or a ``convoy outbox --send`` on the same database stops with a clear
message. Every check and every delivery first checks the lease is still this monitor's; a
monitor that finds it lost (it was frozen past its lease and another took over) stops at once.

Each check (``tick``) is ``models.tracking.alerts.checks.checking``: the new positions folded
into the track states in one transaction, then ``run_checks`` with the service desk's check in
another; every change it makes is then emitted as a Prefect event (``convoy.delayed``,
``convoy.off-route``, ``convoy.arrived`` …) so Prefect automations can react.
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
from flows.service.sender import SENDER_ROLE, held_lease, lease_seconds
from models.db import get_engine, init_db, session_scope, utcnow
from models.desk.at_risk import check_at_risk
from models.errors import MonitorBusyError
from models.tracking.alerts.checks import Change, TickReport, checking
from models.tracking.eta import make_router
from models.tracking.lease import acquire_lease, holder_id, release_lease, renew_lease

MONITOR_ROLE = "monitor"

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
    with checking(now, settings, router) as (session, report):
        check_at_risk(session, now, settings)  # service-desk requests near their target
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
    """The scheduler's check job (text reference ``flows.service.monitor:monitor_job``): one
    check, if this process still holds the monitor lease."""
    holder = current_holder()
    if holder is None:
        return
    with session_scope() as session:
        still = renew_lease(session, holder, utcnow(), MONITOR_ROLE)
    if not still:
        lease_lost(MONITOR_ROLE)
        return
    tick(clock())


# --- the scheduler ----------------------------------------------------------------------------

_running: Monitor | None = None


def current_holder() -> str | None:
    """The lease holder of the monitor running in this process (None: none runs)."""
    mon = _running
    return mon.holder if mon is not None and not mon.lost.is_set() else None


def lease_lost(role: str) -> None:
    """This process's monitor lost its ``role`` lease: it stops checking and sending at once."""
    mon = _running
    if mon is None or mon.lost.is_set():
        return
    mon.lost.set()
    log.error("Another process took over the %s lease of this database; this monitor stops.", role)
    if mon.scheduler is not None and mon.scheduler.running:
        mon.scheduler.pause()  # no job starts again; run_monitor then shuts it down


def lease_job() -> None:
    """Keep this process's leases alive (``flows.service.monitor:lease_job``)."""
    holder = current_holder()
    if holder is None:
        return
    for role in (MONITOR_ROLE, SENDER_ROLE):
        with session_scope() as session:
            still = renew_lease(session, holder, utcnow(), role)
        if not still:
            lease_lost(role)
            return


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
        seconds=lease_seconds(settings) / 3,
        **common,
    )
    return scheduler


class Monitor:
    """The running monitor: holds the leases and the scheduler; ``stop`` releases them."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.holder = holder_id()
        self.scheduler: BackgroundScheduler | None = None
        self.lost = threading.Event()  # set when another process took a lease over

    def start(self) -> Monitor:
        global _running
        expires = timedelta(seconds=lease_seconds(self.settings))
        with session_scope(self.settings) as session:
            for role in (MONITOR_ROLE, SENDER_ROLE):  # both or neither: one transaction
                acquire_lease(session, self.holder, utcnow(), expires, role)
        _running = self
        try:
            self.scheduler = build_scheduler(self.settings)
            self.scheduler.start()
        except BaseException:
            self._release()
            raise
        return self

    def _release(self) -> None:
        global _running
        with session_scope(self.settings) as session:
            for role in (MONITOR_ROLE, SENDER_ROLE):
                release_lease(session, self.holder, role)
        if _running is self:
            _running = None

    def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.scheduler = None
        self._release()

    def __enter__(self) -> Monitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_monitor(settings: Settings | None = None, stop: threading.Event | None = None) -> bool:
    """Run the monitor until ``stop`` is set, the process is interrupted (``convoy monitor``) or
    it loses its lease to another process (then False)."""
    stop = stop or threading.Event()
    with Monitor(settings) as mon:
        try:
            while not stop.wait(1.0) and not mon.lost.is_set():
                pass
        except KeyboardInterrupt:
            pass
        return not mon.lost.is_set()


def check_once(now: datetime, settings: Settings | None = None) -> tuple[TickReport, Any]:
    """One check and one delivery, as ``convoy monitor --once`` makes them: under the monitor
    and the sender lease, so never beside a running monitor (``MonitorBusyError``). Returns the
    check's report and the delivery's."""
    from flows.service.sender import deliver_due

    settings = settings or get_settings()
    with held_lease(MONITOR_ROLE, settings), held_lease(SENDER_ROLE, settings) as sender:
        report = tick(now, settings)
        return report, deliver_due(now, settings=settings, holder=sender)


def jobs_in_store(settings: Settings | None = None) -> list[str]:
    """Ids of the jobs persisted in the database's job store."""
    from sqlalchemy import inspect, text

    engine = get_engine(settings)
    if JOBS_TABLE not in inspect(engine).get_table_names():
        return []
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text(f"SELECT id FROM {JOBS_TABLE} ORDER BY id"))]


def main() -> None:
    """``python -m flows.service.monitor``: the monitor as a part of ``convoy serve``."""
    import signal
    import sys

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        ok = run_monitor()
    except MonitorBusyError as exc:
        print(f"Error: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    if not ok:
        print("Error: another monitor took over this database; this one stopped.", flush=True)
    sys.exit(0 if ok else 3)


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = [
    "Monitor",
    "MonitorBusyError",
    "accelerated_clock",
    "build_scheduler",
    "check_once",
    "clock",
    "current_holder",
    "emit_changes",
    "jobs_in_store",
    "monitor_job",
    "run_monitor",
    "set_clock",
    "tick",
]
