"""Leases: one live holder per role and database; an abandoned lease expires; two holders
starting at once are serialised, the second told the role is taken."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from datetime import timedelta

import pytest

from config import Settings
from models.db import session_scope
from models.errors import MonitorBusyError
from models.tracking.lease import acquire_lease, holder_gone, release_lease
from tests.models.tracking.conftest import DEP


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


def test_a_lease_of_a_process_of_this_host_that_is_gone_is_taken_at_once(
    settings: Settings,
) -> None:
    """A monitor killed with ``kill -9`` on this host: its restart takes the role without
    waiting for the lease to expire. A live holder here, or one on another host, still holds."""
    host = socket.gethostname()
    done = subprocess.Popen(["true"])
    done.wait()  # its process id now names no process
    gone, alive = f"{host}:{done.pid}:dead0001", f"{host}:{os.getppid()}:live0001"
    assert holder_gone(gone)
    assert not holder_gone(alive) and not holder_gone(f"elsewhere:{done.pid}:x")
    assert not holder_gone("a")
    for holder in (alive, f"elsewhere:{done.pid}:x"):
        with session_scope() as s:
            acquire_lease(s, holder, DEP, timedelta(minutes=1))
        with session_scope() as s, pytest.raises(MonitorBusyError, match="only one may run"):
            acquire_lease(s, "b", DEP + timedelta(seconds=5), timedelta(minutes=1))
        with session_scope() as s:
            release_lease(s, holder)
    with session_scope() as s:
        acquire_lease(s, gone, DEP, timedelta(minutes=1), "sender")
    with session_scope() as s:
        assert acquire_lease(s, "b", DEP + timedelta(seconds=5), timedelta(minutes=1), "sender")


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
