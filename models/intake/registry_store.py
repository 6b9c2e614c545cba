"""The registry lists stored in the database, for checks across a whole campaign.

The configured lists (``models.intake.verification.registry_paths``) stay the truth; their
entries are copied into ``registry_entry`` when a list is added or changes (by size and
modification time), so that ``check_stored`` compares every active convoy's manifest with every
list in one joined query instead of reading a million-line list once per convoy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlmodel import Session

from config import Settings, get_settings
from models.convoy.lifecycle import Stage
from models.convoy.tables import Convoy, Passenger
from models.db import utcnow
from models.intake.identity import mask_id
from models.intake.verification import (
    LoadStats,
    Registry,
    RegistryEntry,
    RegistrySource,
    registry_paths,
)

_S = RegistrySource.__table__  # type: ignore[attr-defined]
_E = RegistryEntry.__table__  # type: ignore[attr-defined]
_P = Passenger.__table__  # type: ignore[attr-defined]
_C = Convoy.__table__  # type: ignore[attr-defined]
_CHUNK = 20_000


@dataclass
class Synced:
    """What a sync did: the lists read again (with what reading them found), those unchanged,
    and those removed."""

    loaded: list[LoadStats] = field(default_factory=list)
    unchanged: int = 0
    removed: int = 0


def sync_registry(session: Session, settings: Settings | None = None) -> Synced:
    """Bring the stored lists in line with the configured ones (only changed lists are read)."""
    settings = settings or get_settings()
    conn = session.connection()
    stored = {row.path: row for row in conn.execute(select(_S)).all()}
    out = Synced()
    for path in registry_paths(settings):
        key = str(path.resolve())
        st = path.stat()
        row = stored.pop(key, None)
        if row is not None and (row.size, row.mtime_ns) == (st.st_size, st.st_mtime_ns):
            out.unchanged += 1
            continue
        reg = Registry()
        stats = reg.add_file(path)
        values = {
            "path": key, "name": path.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "loaded_at": utcnow(), "lines": stats.lines, "entries": len(reg),
            "repeated": stats.repeated, "conflicting": stats.conflicting,
            "bad_rows": stats.bad_rows,
        }  # fmt: skip
        if row is None:
            key_ = conn.execute(insert(_S).values(**values)).inserted_primary_key
            assert key_ is not None
            source_id = key_[0]
        else:
            source_id = row.id
            conn.execute(delete(_E).where(_E.c.source_id == source_id))
            conn.execute(_S.update().where(_S.c.id == source_id).values(**values))
        _store_entries(conn, source_id, reg)
        out.loaded.append(stats)
    for row in stored.values():  # lists no longer configured
        conn.execute(delete(_E).where(_E.c.source_id == row.id))
        conn.execute(delete(_S).where(_S.c.id == row.id))
        out.removed += 1
    return out


def _store_entries(conn: Any, source_id: int, reg: Registry) -> None:
    entries = reg.entries
    stmt = insert(_E)
    batch: list[dict[str, Any]] = []
    for idn, slot in reg.index.items():
        e = entries[slot]
        batch.append(
            {"source_id": source_id, "id_number": idn, "category": e.category, "reason": e.reason}
        )
        if len(batch) >= _CHUNK:
            conn.execute(stmt, batch)
            batch = []
    if batch:
        conn.execute(stmt, batch)


def stored_lists(session: Session) -> list[dict[str, Any]]:
    rows = session.connection().execute(select(_S).order_by(_S.c.name)).all()
    return [
        {"file": r.path, "entries": r.entries, "lines": r.lines, "repeated": r.repeated,
         "conflicting": r.conflicting, "bad_rows": r.bad_rows}
        for r in rows
    ]  # fmt: skip


@dataclass
class ConvoyCheck:
    code: str
    checked: int = 0
    flagged: list[dict[str, Any]] = field(default_factory=list)


def check_stored(
    session: Session, codes: Iterable[str] | None = None, settings: Settings | None = None
) -> list[ConvoyCheck]:
    """Compare the manifests of every convoy that is not closed (or of ``codes``) with the
    stored lists, changing nothing: one count and one joined query. Passengers listed in
    several lists get one flag naming all of them."""
    sync_registry(session, settings)
    conn = session.connection()
    scope = [_C.c.stage != Stage.CLOSED.value] if codes is None else [_C.c.code.in_(list(codes))]
    counts = conn.execute(
        select(_C.c.code, func.count(_P.c.id))
        .select_from(_C)
        .outerjoin(_P, _P.c.convoy_id == _C.c.id)
        .where(*scope)
        .group_by(_C.c.code)
        .order_by(_C.c.code)
    ).all()
    out = {code: ConvoyCheck(code, n) for code, n in counts}
    hits = conn.execute(
        select(_C.c.code, _P.c.seat, _P.c.id_number, _E.c.category, _E.c.reason, _S.c.name)
        .select_from(_P)
        .join(_C, _C.c.id == _P.c.convoy_id)
        .join(_E, _E.c.id_number == _P.c.id_number)
        .join(_S, _S.c.id == _E.c.source_id)
        .where(*scope)
        .order_by(_C.c.code, _P.c.seat, _S.c.name)
    ).all()
    last: dict[str, Any] | None = None
    for code, seat, idn, category, reason, source in hits:
        flags = out[code].flagged
        if last is not None and flags and flags[-1] is last and last["seat"] == seat:
            for key, value in (("category", category), ("reason", reason), ("source", source)):
                if value and value not in last[key].split("; "):
                    last[key] = f"{last[key]}; {value}" if last[key] else value
            continue
        last = {"seat": seat, "id": mask_id(idn), "outcome": "flagged", "category": category,
                "reason": reason, "source": source}  # fmt: skip
        flags.append(last)
    return list(out.values())
