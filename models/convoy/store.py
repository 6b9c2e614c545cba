"""Look-ups and idempotent upserts for campaigns, enterprises, escorts, convoys and passengers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, func, insert, literal, select, update
from sqlmodel import Session, SQLModel, col

from models.access.audit import guard, record
from models.convoy.lifecycle import Custody, Mode, Stage
from models.convoy.tables import (
    Assignment,
    Campaign,
    CheckIn,
    Convoy,
    CustodyEvent,
    Enterprise,
    Escort,
    Passenger,
)
from models.db import UTCDateTime, utcnow, writer_queue
from models.errors import NotFoundError, ValidationError, unknown_convoy

_Row = TypeVar("_Row", bound=SQLModel)
_P = Passenger.__table__  # type: ignore[attr-defined]
_E = CustodyEvent.__table__  # type: ignore[attr-defined]

_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团", "公司")
_NAME_JUNK = re.compile(r"[\s()（）\[\]【】·.,，]")


def normalise_enterprise_name(name: str) -> str:
    """Full-width → half-width, no spaces or brackets, no 有限公司-style suffix, lower case."""
    text = unicodedata.normalize("NFKC", name or "").lower()
    text = _NAME_JUNK.sub("", text)
    for suffix in _SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    return text


_BY_CODE = select(Convoy).where(col(Convoy.code) == bindparam("code"))  # built once: hot


def get_convoy(session: Session, code: str) -> Convoy:
    convoy = session.execute(_BY_CODE, {"code": code}).scalars().first()
    if convoy is None:
        raise unknown_convoy(code, session.execute(select(col(Convoy.code))).scalars())
    return convoy


# ``lock_convoy`` runs for every check-in and every step: its statements are built once (a
# statement built anew costs more to build and to key for the compiled cache than to run).
_CONVOY = Convoy.__table__  # type: ignore[attr-defined]
# SQLite without a writer queue: the database's one write lock, taken by a no-op write.
_TAKE_WRITE_LOCK = (
    update(_CONVOY).where(_CONVOY.c.code == bindparam("lock_code")).values(stage=_CONVOY.c.stage)
)
# Read fresh as the lock holder sees it (one query: loaded or refreshed in place).
_READ_LOCKED = (
    select(Convoy)
    .where(col(Convoy.code) == bindparam("lock_code"))
    .execution_options(populate_existing=True)
)
_READ_AND_LOCK_ROW = _READ_LOCKED.with_for_update()  # PostgreSQL: the convoy's row lock


def lock_convoy(session: Session, code: str) -> Convoy:
    """The convoy, locked for the rest of the caller's transaction, read as it is now. Steps,
    check-ins and holds of one convoy are serialised by it, so two of them never act on the
    same stage or passenger at once; those of other convoys go on meanwhile.

    On PostgreSQL: the convoy's row lock. On SQLite: the convoy's turn (``WriterQueue
    .take_turn``, taken before anything pending is written); the database's one writer is
    taken at the transaction's first write, so the reading and working before it hold up no
    other convoy."""
    params = {"lock_code": code}
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.flush()
        stmt = _READ_AND_LOCK_ROW
    else:
        queue = writer_queue(bind.engine)
        if queue is not None:
            queue.take_turn(session.connection().connection, f"convoy {code}")
        session.flush()
        if queue is None:  # an engine not made by ``get_engine``: the one writer, at once
            session.connection().execute(_TAKE_WRITE_LOCK, params)
        stmt = _READ_LOCKED
    found = session.execute(stmt, params).scalars().first()
    return found if found is not None else get_convoy(session, code)


def activity_mark(session: Session, code: str, kinds: Collection[str]) -> tuple[Any, ...]:
    """What a waiting step of the convoy could see change, read cheaply and without a lock:
    its newest check-in (of ``kinds``: those a step reads; a position report changes no
    step), its newest custody event (a hold, say) and its stage's time. Two equal marks:
    nothing a step waits for has happened in between."""
    row = session.execute(_ACTIVITY, {"code": code, "kinds": list(kinds)}).first()
    return tuple(row) if row is not None else ()


_CHECKIN = CheckIn.__table__  # type: ignore[attr-defined]
_ACTIVITY = select(  # built once: a waiting step reads it at every poll
    select(func.max(_CHECKIN.c.id))
    .where(
        _CHECKIN.c.convoy_id == _CONVOY.c.id,
        _CHECKIN.c.kind.in_(bindparam("kinds", expanding=True)),
    )
    .scalar_subquery(),
    select(func.max(_E.c.id)).where(_E.c.convoy_id == _CONVOY.c.id).scalar_subquery(),
    _CONVOY.c.stage_changed_at,
).where(_CONVOY.c.code == bindparam("code"))


def list_convoys(session: Session, campaign: str | None = None) -> list[Convoy]:
    stmt = select(Convoy).order_by(col(Convoy.planned_departure), Convoy.code)
    if campaign:
        stmt = stmt.join(Campaign).where(col(Campaign.name) == campaign)
    return list(session.execute(stmt).scalars())


def get_campaign(session: Session, name: str) -> Campaign:
    found = session.execute(select(Campaign).where(col(Campaign.name) == name)).scalars().first()
    if found is None:
        raise NotFoundError(f"There is no campaign named {name!r}.")
    return found


def _upsert(
    session: Session,
    model: type[_Row],
    key: str,
    value: str,
    fields: dict[str, Any],
    **on_create: Any,
) -> _Row:
    """The ``model`` row whose ``key`` is ``value``: updated with ``fields``, or created with
    them (and ``on_create``) when there is none."""
    stmt = select(model).where(col(getattr(model, key)) == value)
    found = session.execute(stmt).scalars().first()
    if found is None:
        found = model(**{key: value}, **on_create, **fields)
        session.add(found)
    else:
        for name, given in fields.items():
            setattr(found, name, given)
    session.flush()
    return found


def upsert_campaign(session: Session, name: str, **fields: Any) -> Campaign:
    return _upsert(session, Campaign, "name", name, fields)


def upsert_enterprise(session: Session, name: str, **fields: Any) -> Enterprise:
    norm_name = normalise_enterprise_name(name)
    return _upsert(session, Enterprise, "name", name, fields, norm_name=norm_name)


def upsert_escort(session: Session, badge: str, **fields: Any) -> Escort:
    return _upsert(session, Escort, "badge", badge, fields)


def get_escort(session: Session, key: str) -> Escort:
    """An escort by badge number, or by name when that is unique."""
    found = session.execute(select(Escort).where(col(Escort.badge) == key)).scalars().first()
    if found is not None:
        return found
    named = list(session.execute(select(Escort).where(col(Escort.name) == key)).scalars())
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        badges = ", ".join(e.badge for e in named)
        raise ValidationError(f"Several escorts are named {key}; give the badge ({badges}).")
    raise NotFoundError(f"There is no escort with the badge or name {key!r}.")


def assign_escort(session: Session, convoy: Convoy, escort: Escort, role: str = "escort") -> None:
    exists = (
        session.execute(
            select(Assignment).where(
                col(Assignment.convoy_id) == convoy.id, col(Assignment.escort_id) == escort.id
            )
        )
        .scalars()
        .first()
    )
    if exists is None:
        session.add(Assignment(convoy_id=convoy.id, escort_id=escort.id, role=role))  # type: ignore[arg-type]
    else:
        exists.role = role
    session.flush()


def convoy_escorts(session: Session, convoy: Convoy) -> list[tuple[Escort, str]]:
    rows = session.execute(
        select(Escort, col(Assignment.role))
        .join(Assignment, col(Assignment.escort_id) == Escort.id)
        .where(col(Assignment.convoy_id) == convoy.id)
        .order_by(col(Assignment.id))
    ).all()
    return [(e, role) for e, role in rows]


@dataclass
class ConvoySpec:
    """A convoy plan in resolved form (places already turned into coordinates)."""

    code: str
    mode: Mode
    origin_name: str
    origin: tuple[float, float]
    destination_name: str
    destination: tuple[float, float]
    planned_departure: datetime
    planned_arrival: datetime
    vehicle: str = ""
    origin_adcode: str = ""
    destination_adcode: str = ""
    waypoints: Sequence[dict[str, Any]] = ()
    campaign: str | None = None
    notes: str = ""


def upsert_convoy(session: Session, spec: ConvoySpec) -> Convoy:
    """Create a convoy or update its plan. A convoy that has started keeps its route and times."""
    if spec.planned_arrival <= spec.planned_departure:
        raise ValidationError(
            f"Convoy {spec.code}: the planned arrival must come after the planned departure."
        )
    campaign_id = upsert_campaign(session, spec.campaign).id if spec.campaign else None
    fields: dict[str, Any] = {
        "campaign_id": campaign_id,
        "mode": spec.mode.value,
        "vehicle": spec.vehicle,
        "origin_name": spec.origin_name,
        "origin_lat": spec.origin[0],
        "origin_lon": spec.origin[1],
        "origin_adcode": spec.origin_adcode,
        "destination_name": spec.destination_name,
        "destination_lat": spec.destination[0],
        "destination_lon": spec.destination[1],
        "destination_adcode": spec.destination_adcode,
        "waypoints": list(spec.waypoints),
        "planned_departure": spec.planned_departure,
        "planned_arrival": spec.planned_arrival,
        "notes": spec.notes,
    }
    found = session.execute(select(Convoy).where(col(Convoy.code) == spec.code)).scalars().first()
    if found is None:
        found = Convoy(code=spec.code, **fields)
        session.add(found)
    elif found.stage == Stage.PLANNED.value:
        for key, value in fields.items():
            setattr(found, key, value)
    session.flush()
    return found


@dataclass(slots=True)
class PassengerRow:
    """One validated manifest row, ready to store."""

    name: str
    id_number: str
    phone: str = ""
    employer: str = ""
    origin: str = ""
    health_code: str = ""
    nat_result: str = ""
    nat_time: datetime | None = None
    temperature: float | None = None
    extra: dict[str, Any] | None = None
    entry_applied: bool = False
    seat: int | None = None  # the manifest's own number; None: after the highest in use


def match_enterprise(session: Session, employer: str) -> Enterprise | None:
    """Exact name first, then the normalised name."""
    exact = (
        session.execute(select(Enterprise).where(col(Enterprise.name) == employer))
        .scalars()
        .first()
    )
    if exact is not None:
        return exact
    norm = normalise_enterprise_name(employer)
    return (
        session.execute(select(Enterprise).where(col(Enterprise.norm_name) == norm))
        .scalars()
        .first()
    )


_CHUNK = 5000
_PASSENGER_COLUMNS = (
    "convoy_id", "seat", "name", "id_number", "phone", "employer", "enterprise_id", "origin",
    "health_code", "nat_result", "nat_time", "temperature", "entry_applied", "custody",
    "custody_reason", "custody_location", "custody_at", "extra",
)  # fmt: skip


class _BulkInsert:
    """A Core INSERT compiled once for the connection's dialect, executed with the DBAPI's
    executemany through ``Connection.exec_driver_sql``. Values are converted with each
    column type's own bind processor, but only where one exists and only once per distinct
    value (times, JSON), which keeps a 200,000-row manifest at a few µs a row."""

    def __init__(self, conn: Any, table: Any, columns: Sequence[str]) -> None:
        dialect = conn.dialect
        compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
        self.conn = conn
        self.table = table
        self.sql = str(compiled)
        self.columns = tuple(columns)
        self.positional = bool(compiled.positional)
        names = list(compiled.positiontup or []) if self.positional else list(columns)
        if sorted(names) != sorted(columns):
            raise RuntimeError(f"Unexpected bind names {names} for {columns}.")
        self.order = [self.columns.index(n) for n in names]
        self.names = names
        self.procs = {
            i: proc
            for i, c in enumerate(self.columns)
            if (proc := table.c[c].type.dialect_impl(dialect).bind_processor(dialect))
        }

    def run(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if not self.procs and self.positional and self.order == list(range(len(self.columns))):
            self.conn.exec_driver_sql(self.sql, rows)
            return
        cols: list[Any] = list(zip(*rows, strict=True))  # converted column by column
        for i, proc in self.procs.items():
            if self._is_json(i):
                empty = proc({})
                cols[i] = [None if v is None else proc(v) if v else empty for v in cols[i]]
            else:  # each distinct value once (times, flags)
                done = {v: None if v is None else proc(v) for v in set(cols[i])}
                cols[i] = [done[v] for v in cols[i]]
        if not self.positional:
            params: list[Any] = [
                dict(zip(self.columns, r, strict=True)) for r in zip(*cols, strict=True)
            ]
        else:
            params = list(zip(*(cols[i] for i in self.order), strict=True))
        self.conn.exec_driver_sql(self.sql, params)

    def _is_json(self, i: int) -> bool:
        from sqlalchemy import JSON

        return isinstance(self.table.c[self.columns[i]].type, JSON)


def add_passengers(
    session: Session,
    convoy: Convoy,
    rows: Iterable[PassengerRow],
    *,
    actor: str = "manifest",
    enterprise_ids: dict[str, int | None] | None = None,
    chunk: int = _CHUNK,
) -> tuple[int, int]:
    """Add manifest rows not yet on the convoy (by ID number); returns (added, already there).

    Streams: rows are inserted in chunks with one compiled Core INSERT and the DBAPI's
    executemany, and each chunk's registration events are written by one INSERT … SELECT.
    A row keeps its own ``seat`` when it has one (the caller makes sure it is free); the others
    continue after the highest seat in use. Re-importing a file adds nothing.
    ``enterprise_ids`` maps employer text to an enterprise id when the caller has matched
    them already (it is filled in for the others).
    """
    assert convoy.id is not None
    if convoy.stage != Stage.PLANNED.value:
        raise ValidationError(
            f"Convoy {convoy.code} is at stage {convoy.stage}; passengers can only be added "
            "while it is planned."
        )
    guard(session, "manifest.import", convoy_id=convoy.id)
    conn = session.connection()
    existing = set(
        conn.execute(select(_P.c.id_number).where(_P.c.convoy_id == convoy.id)).scalars()
    )
    seat = conn.execute(select(func.max(_P.c.seat)).where(_P.c.convoy_id == convoy.id)).scalar()
    seat = int(seat or 0)
    last_id = select(func.coalesce(func.max(_P.c.id), 0)).where(_P.c.convoy_id == convoy.id)
    enterprises: dict[str, int | None] = {} if enterprise_ids is None else enterprise_ids
    at = utcnow()
    added = skipped = 0
    batch: list[tuple[Any, ...]] = []
    after_id = int(conn.execute(last_id).scalar_one())  # events go to the rows after this id
    registered = Custody.REGISTERED.value
    writer = _BulkInsert(conn, _P, _PASSENGER_COLUMNS)
    events = insert(_E).from_select(
        ["convoy_id", "passenger_id", "at", "actor", "location", "stage",
         "from_state", "to_state", "reason"],
        select(
            _P.c.convoy_id, _P.c.id, literal(at, UTCDateTime()), literal(actor),
            literal(""), literal(Stage.PLANNED.value), literal(""), literal(registered),
            literal("on the manifest"),
        ).where(_P.c.convoy_id == convoy.id, _P.c.id > bindparam("after_id")),
    )  # fmt: skip
    cid = convoy.id
    low, high = 1 << 62, 0  # the seats added (for the audit)

    def flush() -> None:
        nonlocal added, after_id
        if not batch:
            return
        writer.run(batch)
        conn.execute(events, {"after_id": after_id})
        added += len(batch)
        after_id = int(conn.execute(last_id).scalar_one())
        batch.clear()

    for row in rows:
        idn = row.id_number
        if idn in existing:
            skipped += 1
            continue
        employer = row.employer
        if employer not in enterprises:
            ent = match_enterprise(session, employer) if employer else None
            enterprises[employer] = ent.id if ent else None
        if row.seat is None:
            seat += 1
            at_seat = seat
        else:
            at_seat = row.seat
            if at_seat > seat:
                seat = at_seat
        existing.add(idn)
        low, high = min(low, at_seat), max(high, at_seat)
        batch.append(
            (cid, at_seat, row.name, idn, row.phone, employer, enterprises[employer], row.origin,
             row.health_code, row.nat_result, row.nat_time, row.temperature, row.entry_applied,
             registered, "", "", None, row.extra or {})
        )  # fmt: skip
        if len(batch) >= chunk:
            flush()
    flush()
    if added:
        record(
            session, "passengers.add", f"convoy {convoy.code}", convoy_id=cid,
            after={"added": added, "already_on_manifest": skipped, "source": actor,
                   "seats": f"{low}-{high}"},
        )  # fmt: skip
    return added, skipped


def passengers(session: Session, convoy: Convoy) -> list[Passenger]:
    return list(
        session.execute(
            select(Passenger)
            .where(col(Passenger.convoy_id) == convoy.id)
            .order_by(col(Passenger.seat))
        ).scalars()
    )
