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
from models.convoy.store import _BulkInsert
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
    if out.loaded or out.removed:  # the planner then probes the big list, not the manifests
        conn.exec_driver_sql("ANALYZE registry_entry")
        conn.exec_driver_sql("ANALYZE passenger")
    return out


def _store_entries(conn: Any, source_id: int, reg: Registry) -> None:
    writer = _BulkInsert(conn, _E, ("source_id", "id_number", "category", "reason"))
    pairs = [(e.category, e.reason) for e in reg.entries]
    batch: list[tuple[Any, ...]] = []
    for idn, slot in reg.index.items():
        batch.append((source_id, idn, *pairs[slot]))
        if len(batch) >= _CHUNK:
            writer.run(batch)
            batch = []
    writer.run(batch)


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
    stored lists, changing nothing: one count and one join of the passengers with the lists.
    A passenger listed several times gets one flag naming every list."""
    sync_registry(session, settings)
    conn = session.connection()
    convoys = conn.execute(select(_C.c.id, _C.c.code, _C.c.stage)).all()
    wanted = None if codes is None else set(codes)
    chosen = {
        cid: code
        for cid, code, stage in convoys
        if (code in wanted if wanted is not None else stage != Stage.CLOSED.value)
    }
    people = select(_P.c.convoy_id, func.count()).group_by(_P.c.convoy_id)
    hits = select(
        _P.c.convoy_id, _P.c.seat, _P.c.id_number, _E.c.category, _E.c.reason, _E.c.source_id
    ).join_from(_P, _E, _E.c.id_number == _P.c.id_number)
    if wanted is not None:  # a few convoys: their passengers only
        people = people.where(_P.c.convoy_id.in_(list(chosen)))
        hits = hits.where(_P.c.convoy_id.in_(list(chosen)))
    counts: dict[int, int] = {cid: n for cid, n in conn.execute(people).all()}
    out = {
        cid: ConvoyCheck(code, counts.get(cid, 0))
        for cid, code in sorted(chosen.items(), key=lambda kv: kv[1])
    }
    sources: dict[int, str] = {i: name for i, name in conn.execute(select(_S.c.id, _S.c.name))}
    found: dict[tuple[int, int], dict[str, Any]] = {}
    for cid, seat, idn, category, reason, source_id in sorted(
        (h for h in conn.execute(hits).all() if h[0] in out),
        key=lambda h: (h[1], sources.get(h[5], "")),
    ):
        source = sources.get(source_id, "")
        flag = found.get((cid, seat))
        if flag is None:
            flag = {"seat": seat, "id": mask_id(idn), "outcome": "flagged",
                    "category": category, "reason": reason, "source": source}  # fmt: skip
            found[cid, seat] = flag
            out[cid].flagged.append(flag)
            continue
        for key, value in (("category", category), ("reason", reason), ("source", source)):
            if value and value not in flag[key].split("; "):
                flag[key] = f"{flag[key]}; {value}" if flag[key] else value
    return list(out.values())
