"""Bulk custody changes: validated against the lifecycle, written as append-only events.

Work is done on whole manifests (SQLAlchemy Core executemany), never one ORM object per person.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlmodel import Session

from models.access.audit import guard, record
from models.convoy.lifecycle import Census, Custody, check_custody_transition
from models.convoy.tables import Convoy, CustodyEvent, Passenger
from models.db import driver_value, execute_at_driver, insert_columns
from models.errors import NotFoundError

_P = Passenger.__table__  # type: ignore[attr-defined]
_E = CustodyEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Change:
    """Move one passenger to ``to`` (a reason is required for held and withdrawn)."""

    passenger_id: int
    to: Custody
    reason: str = ""
    location: str | None = None


def states(session: Session, convoy_id: int) -> dict[int, Custody]:
    """Current custody state of every passenger of a convoy, by passenger id."""
    rows = session.execute(select(_P.c.id, _P.c.custody).where(_P.c.convoy_id == convoy_id))
    return {pid: Custody(state) for pid, state in rows}


def census(session: Session, convoy_id: int) -> Census:
    """Counts per custody state for one convoy."""
    return censuses(session, [convoy_id])[convoy_id]


def censuses(session: Session, convoy_ids: Sequence[int]) -> dict[int, Census]:
    """``census`` of each of these convoys, in one query."""
    by_state: dict[int, dict[Custody, int]] = {cid: {} for cid in convoy_ids}
    for cid, state, n in session.execute(
        select(_P.c.convoy_id, _P.c.custody, func.count())
        .where(_P.c.convoy_id.in_(list(convoy_ids)))
        .group_by(_P.c.convoy_id, _P.c.custody)
    ):
        by_state[cid][Custody(state)] = int(n)
    return {cid: Census(total=sum(s.values()), by_state=s) for cid, s in by_state.items()}


_EVENT_COLUMNS = ("convoy_id", "passenger_id", "at", "actor", "location", "stage",
                  "from_state", "to_state", "reason")  # fmt: skip
_INSERT_EVENT = insert_columns(_E, _EVENT_COLUMNS)
_UPDATE_CUSTODY = (
    update(_P)
    .where(_P.c.id == bindparam("b_id"))
    .values(
        custody=bindparam("b_custody"),
        custody_reason=bindparam("b_reason"),
        custody_location=bindparam("b_location"),
        custody_at=bindparam("b_at"),
    )
)


def apply_changes(
    session: Session,
    convoy: Convoy,
    changes: Sequence[Change],
    *,
    at: datetime,
    actor: str,
    location: str,
    stage: str,
    current: dict[int, Custody] | None = None,
) -> int:
    """Validate every change, then write all events and state updates in bulk.

    Nothing is written if any change is illegal: the caller's transaction rolls back.
    Returns the number of passengers moved.
    """
    if not changes:
        return 0
    assert convoy.id is not None
    guard(session, "custody.write", convoy_id=convoy.id)
    current = current if current is not None else states(session, convoy.id)
    events: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    conn = session.connection()
    # Every row of the move has the same time: processed for the driver once, not per row.
    at_db = driver_value(conn, _E.c.at, at)
    for ch in changes:
        try:
            was = current[ch.passenger_id]
        except KeyError:
            raise NotFoundError(
                f"Passenger {ch.passenger_id} is not on the manifest of convoy {convoy.code}."
            ) from None
        check_custody_transition(was, ch.to, ch.reason)
        where = ch.location if ch.location is not None else location
        events.append(
            {
                "convoy_id": convoy.id,
                "passenger_id": ch.passenger_id,
                "at": at_db,
                "actor": actor,
                "location": where,
                "stage": stage,
                "from_state": was.value,
                "to_state": ch.to.value,
                "reason": ch.reason,
            }
        )
        updates.append(
            {
                "b_id": ch.passenger_id,
                "b_custody": ch.to.value,
                "b_reason": ch.reason,
                "b_location": where,
                "b_at": at_db,
            }
        )
        current[ch.passenger_id] = ch.to
    # The audit reads first (seats, the actor): the writes then come together, and SQLite's one
    # writer is held for them only.
    _audit(session, convoy, events, actor)
    session.flush()  # pending ORM changes first (a no-op when there are none)
    # The driver's executemany: a step moves hundreds of passengers (no SQLAlchemy work each).
    execute_at_driver(conn, _INSERT_EVENT, events)
    execute_at_driver(conn, _UPDATE_CUSTODY, updates)
    return len(changes)


def _audit(session: Session, convoy: Convoy, events: list[dict[str, object]], actor: str) -> None:
    """One audit row for the whole move: counts by state, the seats (up to 50), the reasons."""
    targets = Counter(str(e["to_state"]) for e in events)
    ids = [int(str(e["passenger_id"])) for e in events[:50]]
    seats = sorted(session.execute(select(_P.c.seat).where(_P.c.id.in_(ids))).scalars())
    record(
        session,
        f"custody.{next(iter(targets))}" if len(targets) == 1 else "custody.move",
        f"convoy {convoy.code}",
        convoy_id=convoy.id,
        before={"custody": dict(Counter(str(e["from_state"]) for e in events))},
        after={
            "custody": dict(targets),
            "seats": seats + (["…"] if len(events) > 50 else []),
            "reasons": sorted({str(e["reason"]) for e in events if e["reason"]})[:10],
            "reported_by": actor,
            "stage": str(events[0]["stage"]),
        },
    )


def replay(session: Session, convoy_id: int) -> dict[int, Custody]:
    """Each passenger's state as the event log tells it (to check against the passenger table)."""
    rows = session.execute(
        select(_E.c.passenger_id, _E.c.to_state)
        .where(_E.c.convoy_id == convoy_id)
        .order_by(_E.c.id)
    )
    return {pid: Custody(state) for pid, state in rows}
