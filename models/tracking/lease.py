"""Leases: at most one live holder per database of a named role (``"monitor"``: the delay monitor).

A lease is one row per role: who holds it and when it last said so. The holder renews it well
within ``expires_after``; another process takes the role only once the lease has expired, so a
crashed holder is replaced after one expiry at most, and at once when the holder was a process
of this host that is gone (``convoy serve`` restarted after a ``kill -9``). Two processes
starting at once queue on the row's lock, and the second is told the role is taken
(``MonitorBusyError``)::

    holder = holder_id()
    acquire_lease(session, holder, now, expires_after, name)  # or MonitorBusyError
    renew_lease(session, holder, now, name)  # every expires_after / 3; False: stop at once
    release_lease(session, holder, name)  # on a clean stop
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Field, Session, SQLModel

from models.db import UTCDateTime, locked_row
from models.errors import MonitorBusyError

# How a role is named in messages (the role's own name otherwise).
_ROLE_LABELS = {"monitor": "delay monitor", "sender": "notification sender"}


class Lease(SQLModel, table=True):
    """Who holds the role ``name`` on this database (one live holder per role)."""

    __tablename__ = "monitor_lease"  # its first role's name; it holds the lease of every role
    name: str = Field(primary_key=True)
    holder: str
    started_at: datetime = Field(sa_type=UTCDateTime)
    heartbeat_at: datetime = Field(sa_type=UTCDateTime)


def holder_id() -> str:
    """A new holder name for this process: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_gone(holder: str) -> bool:
    """Whether ``holder`` (``host:pid:random``) was a process of this host that no longer runs
    (or is a zombie nobody reaped). A holder elsewhere, or a process id now in use, counts as
    live: its lease then expires as usual."""
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: alive
        return False
    try:  # Linux: a killed process its parent has not reaped yet is a zombie ("Z")
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[-1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def acquire_lease(
    session: Session, holder: str, now: datetime, expires_after: timedelta, name: str = "monitor"
) -> Lease:
    """Take the role ``name`` for ``holder``, unless another holds a live lease on it
    (``MonitorBusyError``); a lease whose holder is gone (``holder_gone``) is not live. Taking
    it again as the same holder renews it."""
    # The row is made first (expired: no one's) so that there is always a row to lock: two
    # monitors starting at once on PostgreSQL queue on it and the second is told the database
    # is busy, instead of both inserting and one failing on the key.
    lease = locked_row(
        session, Lease, {"name": name}, holder="", started_at=now, heartbeat_at=now - expires_after
    )
    if (  # held by another ("" is a released lease) and still live
        lease.holder not in ("", holder)
        and now - lease.heartbeat_at < expires_after
        and not holder_gone(lease.holder)
    ):
        raise MonitorBusyError(
            f"Another {_ROLE_LABELS.get(name, name)} ({lease.holder}) runs on this database, "
            f"last seen {lease.heartbeat_at.isoformat(timespec='seconds')}; only one may run per "
            "database. Stop it first, or wait until its lease expires."
        )
    if lease.holder != holder:
        lease.started_at = now
    lease.holder = holder
    lease.heartbeat_at = now
    session.flush()
    return lease


def renew_lease(session: Session, holder: str, now: datetime, name: str = "monitor") -> bool:
    """Refresh our lease; False if someone else took it over (then we must stop). One atomic
    statement (the fencing check a holder makes before each piece of work)."""
    table = Lease.__table__  # type: ignore[attr-defined]
    res = session.connection().execute(
        update(table).where(table.c.name == name, table.c.holder == holder).values(heartbeat_at=now)
    )
    return bool(res.rowcount)


def release_lease(session: Session, holder: str, name: str = "monitor") -> None:
    """Give the role up (nothing happens when ``holder`` does not hold it). The row stays, with
    no holder, so that the next holder always finds a row to lock."""
    table = Lease.__table__  # type: ignore[attr-defined]
    session.connection().execute(
        update(table).where(table.c.name == name, table.c.holder == holder).values(holder="")
    )
