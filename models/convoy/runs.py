"""Which flow run is a convoy's (or a vehicle-pass application's) one active run.

A convoy has one flow run for its whole life and never two active at once. The run claims the
subject when it starts (``claim_run``): one lease row per subject (``models.tracking.lease``
table, role ``run:<subject>``) naming the run (``<flow run id>@<host>:<pid>``). Another run may
take the subject over only when the holder is no longer live; the orchestration layer says what
"live" means (``is_live``: e.g. its flow run suspended, scheduled, or running in a process that
still exists). A second run of a live subject is refused with ``RunBusyError`` and writes nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlmodel import Session, col

from models.db import insert_ignore
from models.errors import RunBusyError
from models.tracking.lease import Lease

_L = Lease.__table__  # type: ignore[attr-defined]


def run_role(subject: str) -> str:
    """The lease role of a subject: ``convoy:BUS-PC-02``, ``permit:TX-20200220-0001``."""
    return f"run:{subject}"


@dataclass(frozen=True)
class RunHolder:
    """Who holds a subject: its flow run, where that run's process is, when it last said so."""

    flow_run_id: str
    host: str
    pid: int
    heartbeat_at: datetime

    @classmethod
    def parse(cls, holder: str, heartbeat_at: datetime) -> RunHolder:
        run, _, where = holder.partition("@")
        host, _, pid = where.rpartition(":")
        return cls(run, host, int(pid) if pid.isdigit() else 0, heartbeat_at)

    @property
    def here(self) -> bool:
        """The holder's process is on this machine."""
        return self.host == socket.gethostname()

    def process_alive(self) -> bool:
        """Whether the holder's process still exists (only answerable on its own machine)."""
        if not self.pid:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def holder_name(flow_run_id: str, pid: int | None = None) -> str:
    return f"{flow_run_id}@{socket.gethostname()}:{pid or os.getpid()}"


def current_run(session: Session, subject: str) -> RunHolder | None:
    """The run holding ``subject`` (None: no run ever claimed it, or its run let it go)."""
    row = session.execute(
        select(col(Lease.holder), col(Lease.heartbeat_at)).where(
            col(Lease.name) == run_role(subject)
        )
    ).first()
    if row is None or not row[0]:
        return None
    return RunHolder.parse(row[0], row[1])


def claim_run(
    session: Session,
    subject: str,
    flow_run_id: str,
    now: datetime,
    is_live: Callable[[RunHolder], bool],
    *,
    what: str = "",
) -> RunHolder | None:
    """Make ``flow_run_id`` the subject's run, unless another live run holds it
    (``RunBusyError``). Returns the run it took over from, if any (the same run restarted
    after a suspension or a crash takes itself over)."""
    name = run_role(subject)
    me = holder_name(flow_run_id)
    # A write first: on SQLite it takes the one write lock, on PostgreSQL the row's lock below
    # always has a row to take; two runs starting at once are serialised here.
    session.execute(
        insert_ignore(session, _L).values(name=name, holder="", started_at=now, heartbeat_at=now)
    )
    lease = session.get(Lease, name, with_for_update=True, populate_existing=True)
    assert lease is not None
    before = RunHolder.parse(lease.holder, lease.heartbeat_at) if lease.holder else None
    if before is not None and before.flow_run_id != flow_run_id and is_live(before):
        raise RunBusyError(
            f"{what or subject} already has an active flow run ({before.flow_run_id}); a second "
            "run is not started. Follow that one, or cancel it first."
        )
    if before is None or before.flow_run_id != flow_run_id:
        lease.started_at = now
    lease.holder = me
    lease.heartbeat_at = now
    session.flush()
    return before


def beat(session: Session, subject: str, flow_run_id: str, now: datetime) -> bool:
    """The run says it is alive (and where its process now is); False if it no longer holds
    the subject."""
    res = session.connection().execute(
        update(_L)
        .where(_L.c.name == run_role(subject), _L.c.holder.like(f"{flow_run_id}@%"))
        .values(holder=holder_name(flow_run_id), heartbeat_at=now)
    )
    return bool(res.rowcount)


def release_run(session: Session, subject: str, flow_run_id: str) -> None:
    """The run is over (the convoy closed): the subject has no active run any more."""
    session.connection().execute(
        update(_L)
        .where(_L.c.name == run_role(subject), _L.c.holder.like(f"{flow_run_id}@%"))
        .values(holder="")
    )


def held_subjects(session: Session, prefix: str) -> dict[str, RunHolder]:
    """Every subject of a kind (``convoy:``, ``permit:``) that a run holds, with its holder."""
    rows = session.execute(
        select(col(Lease.name), col(Lease.holder), col(Lease.heartbeat_at)).where(
            col(Lease.name).like(f"run:{prefix}%"), col(Lease.holder) != ""
        )
    ).all()
    return {name.removeprefix("run:"): RunHolder.parse(h, at) for name, h, at in rows}
