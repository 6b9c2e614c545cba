"""The audit log: every write records who (a user, device, link, the CLI operator or a process),
from where (CLI, API, flow), when, what, and the subject before and after, personal data masked.

One mechanism catches the ORM: a ``before_flush`` listener reads the attribute history of every
new, changed or deleted row of an audited table (``AUDITED``), checks the acting person's right
for it (``models.access.users.check``: a refused write raises before anything is sent) and an
``after_flush`` listener writes the audit rows in the same transaction. Bulk Core writes (custody
moves, manifest imports) call ``guard`` before and ``record`` after. The table is append-only:
the database itself refuses to update or delete its rows (triggers on SQLite and PostgreSQL).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import DDL, JSON, Column, event, insert, inspect, select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import UOWTransaction
from sqlmodel import Field, Session, SQLModel, col

from models.access import actors
from models.access.actors import Actor, Via
from models.access.users import check, require, resolve
from models.convoy.tables import Convoy
from models.db import UTCDateTime, utcnow
from models.errors import ValidationError
from models.intake.identity import mask_id, mask_name, mask_phone, scrub

TEXT_LIMIT = 200  # characters of one value kept in the log (the rest is counted)


class AuditEvent(SQLModel, table=True):
    """One write: who, from where, when, what, the subject before and after (masked)."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor_kind: str = Field(description="user, operator, device, link or system.")
    actor: str = Field(index=True)
    role: str = ""
    via: str = Field(description="cli, api, flow or library.")
    action: str = Field(index=True, description="e.g. checkin.add, alert.acknowledged.")
    subject: str = ""
    convoy_id: int | None = Field(default=None, index=True)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


_T = AuditEvent.__table__  # type: ignore[attr-defined]
_REFUSAL = "The audit log is append-only: its rows are never changed or deleted."
for _statement, _dialect in (
    (
        f"CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END",
        "sqlite",
    ),
    (
        f"CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END",
        "sqlite",
    ),
    (
        "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$",
        "postgresql",
    ),
    (
        "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        "ON audit_event FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
        "postgresql",
    ),
):  # a new database made by create_all gets the triggers revision 0003 adds to an old one
    event.listen(_T, "after_create", DDL(_statement).execute_if(dialect=_dialect))


@dataclass(frozen=True)
class Audited:
    """How one table is audited: its label, the right a write needs, the attribute naming a row,
    where its convoy or enterprise is, columns whose changes alone are not worth a record, and
    whether its ``name`` is a private person's."""

    label: str
    right: str
    key: str = "id"
    convoy: str | None = None
    enterprise: str | None = None
    quiet: frozenset[str] = frozenset()
    person: bool = False
    marks: tuple[tuple[str, str], ...] = ()  # (column, action word) when the column is set


AUDITED: dict[str, Audited] = {
    "campaign": Audited("campaign", "plan.write", key="name"),
    "enterprise": Audited("enterprise", "plan.write", key="name"),
    "escort": Audited("escort", "plan.write", key="badge"),
    "assignment": Audited("assignment", "plan.write", convoy="convoy_id"),
    "convoy": Audited("convoy", "convoy.write", key="code", convoy="id"),
    "stage_run": Audited("stage", "convoy.write", convoy="convoy_id"),
    "passenger": Audited("passenger", "custody.write", convoy="convoy_id", person=True),
    "checkin": Audited("checkin", "checkin.write", convoy="convoy_id"),
    "alert": Audited(
        "alert", "alert.write", convoy="convoy_id", quiet=frozenset({"last_seen_at", "details"}),
        marks=(("escalation_level", "escalated"), ("snoozed_until", "snoozed")),
    ),
    "device": Audited(
        "device", "device.write", key="device_id", convoy="convoy_id",
        quiet=frozenset({"last_seen_at", "battery"}),
    ),
    "registration": Audited(
        "registration", "registration.write", enterprise="enterprise_id", person=True
    ),
    "permit_application": Audited("permit", "permit.write", key="number"),
    "permit": Audited("permit", "permit.write", marks=(("valid_until", "extended"),)),
    "permit_vehicle": Audited("permit vehicle", "permit.write"),
    "permit_trip": Audited("permit trip", "permit.write", key="number"),
    "user_account": Audited("user", "user.write", key="name"),
    "user_token": Audited("token", "user.write"),
}  # fmt: skip

_STATUS = ("stage", "state", "status")  # a change of one of these names the action


def _mask_urls(text: str) -> str:
    from models.notify.outbox import mask_url, split_urls

    return ", ".join(mask_url(u) for u in split_urls(text))


_MASKS: dict[str, Any] = {
    "id_number": mask_id,
    "phone": mask_phone,
    "contact_phone": mask_phone,
    "driver_phone": mask_phone,
    "notify_url": _mask_urls,
    "token_hash": lambda _v: "***",
}


def clean(value: Any, depth: int = 0) -> Any:
    """A value as JSON the log can keep: times as ISO text, long texts cut, ID and phone
    numbers in free text masked, non-finite numbers as text."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Enum):
        return clean(value.value, depth)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        if depth > 4:
            return "…"
        items = list(value.items())
        out = {str(k)[:60]: clean(v, depth + 1) for k, v in items[:50]}
        if len(items) > 50:
            out["…"] = f"{len(items) - 50} more"
        return out
    if isinstance(value, list | tuple | set | frozenset):
        if depth > 4:
            return "…"
        seq = list(value)
        out_list = [clean(v, depth + 1) for v in seq[:50]]
        return [*out_list, f"… {len(seq) - 50} more"] if len(seq) > 50 else out_list
    text = scrub(str(value))
    if len(text) > TEXT_LIMIT:
        return f"{text[:TEXT_LIMIT]}… ({len(text)} characters)"
    return text


def masked(values: Mapping[str, Any], person: bool = False) -> dict[str, Any]:
    """Column values for the log: personal data masked the one way (``models.intake.identity``)."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        if k in _MASKS and isinstance(v, str) and v:
            out[k] = _MASKS[k](v)
        elif person and k == "name" and isinstance(v, str):
            out[k] = mask_name(v)
        else:
            out[k] = clean(v)
    return out


def _columns(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    return {a.key: state.dict.get(a.key) for a in state.mapper.column_attrs}


def _changes(obj: Any, spec: Audited) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        hist = state.attrs[attr.key].history
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if old == new:
            continue
        before[attr.key], after[attr.key] = old, new
    if set(after) <= spec.quiet:
        return {}, {}
    return before, after


def _verb(spec: Audited, before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    for name in _STATUS:
        if name in after and after[name] is not None:
            return str(after[name])
    for name, word in spec.marks:
        if after.get(name) is not None:
            return word
    if after.get("active") is False or (after.get("revoked_at") and not before.get("revoked_at")):
        return "revoked"
    return "change"


@dataclass
class _Pending:
    obj: Any
    spec: Audited
    verb: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def _scope(spec: Audited, values: Mapping[str, Any]) -> tuple[int | None, int | None]:
    convoy = values.get(spec.convoy) if spec.convoy else None
    enterprise = values.get(spec.enterprise) if spec.enterprise else None
    return convoy, enterprise


def _before_flush(session: OrmSession, _ctx: UOWTransaction, _instances: Any) -> None:
    pending: list[_Pending] = []
    for obj in session.new:
        if isinstance(obj, AuditEvent) or (spec := _spec(obj)) is None:
            continue
        pending.append(_Pending(obj, spec, "add", None, _columns(obj)))
    for obj in session.dirty:
        if isinstance(obj, AuditEvent):
            raise ValidationError(_REFUSAL)
        if (spec := _spec(obj)) is None or not session.is_modified(obj):
            continue
        before, after = _changes(obj, spec)
        if after:
            pending.append(_Pending(obj, spec, _verb(spec, before, after), before, after))
    for obj in session.deleted:
        if isinstance(obj, AuditEvent):
            raise ValidationError(_REFUSAL)
        if (spec := _spec(obj)) is not None:
            pending.append(_Pending(obj, spec, "remove", _columns(obj), None))
    if not pending:
        return
    actor, via = actors.current()
    who = resolve(session, actor)  # type: ignore[arg-type]
    for p in pending:
        values = {**_columns(p.obj), **(p.after or {})}
        convoy_id, enterprise_id = _scope(p.spec, values)
        check(session, who, p.spec.right, convoy_id=convoy_id, enterprise_id=enterprise_id)  # type: ignore[arg-type]
    session.info.setdefault("audit_pending", []).extend(pending)
    session.info["audit_actor"] = (who, via)


def _after_flush(session: OrmSession, _ctx: UOWTransaction) -> None:
    pending: list[_Pending] = session.info.pop("audit_pending", [])
    if not pending:
        return
    who, via = session.info.pop("audit_actor")
    rows = []
    for p in pending:
        values = _columns(p.obj)
        convoy_id, _ = _scope(p.spec, values)
        key = values.get(p.spec.key)
        subject = f"{p.spec.label} {key}" if p.spec.key != "id" else f"{p.spec.label} #{key}"
        rows.append(
            _row(
                who, via, f"{p.spec.label}.{p.verb}", subject, convoy_id,
                masked(p.before, p.spec.person) if p.before is not None else None,
                masked(p.after if p.verb != "add" else values, p.spec.person)
                if p.after is not None else None,
            )
        )  # fmt: skip
    session.connection().execute(insert(_T), rows)


def _after_rollback(session: OrmSession) -> None:
    session.info.pop("audit_pending", None)
    session.info.pop("audit_actor", None)


def _spec(obj: Any) -> Audited | None:
    table = getattr(obj, "__tablename__", None)
    return AUDITED.get(table) if isinstance(table, str) else None


def _row(
    who: Actor,
    via: Via,
    action: str,
    subject: str,
    convoy_id: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "at": utcnow(),
        "actor_kind": who.kind,
        "actor": who.name,
        "role": who.role or "",
        "via": via,
        "action": action,
        "subject": subject[:200],
        "convoy_id": convoy_id,
        "before": before,
        "after": after,
    }


event.listen(OrmSession, "before_flush", _before_flush)
event.listen(OrmSession, "after_flush", _after_flush)
event.listen(OrmSession, "after_soft_rollback", lambda session, _tx: _after_rollback(session))


def guard(
    session: Session, right: str, *, convoy_id: int | None = None, enterprise_id: int | None = None
) -> None:
    """Before a bulk Core write: refuse it unless the acting person has ``right``."""
    require(session, right, convoy_id=convoy_id, enterprise_id=enterprise_id)


def record(
    session: Session,
    action: str,
    subject: str,
    *,
    convoy_id: int | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    person: bool = False,
) -> None:
    """After a bulk Core write (which the ORM listener cannot see): one audit row for it."""
    actor, via = actors.current()
    who = resolve(session, actor)
    row = _row(
        who, via, action, subject, convoy_id,
        masked(before, person) if before is not None else None,
        masked(after, person) if after is not None else None,
    )  # fmt: skip
    session.connection().execute(insert(_T), [row])


def audit_log(
    session: Session,
    *,
    convoy: str | None = None,
    since: datetime | None = None,
    action: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The newest ``limit`` audit rows (oldest first), of one convoy, since a time, or of one
    kind of action (a prefix such as ``alert`` or ``checkin.add``)."""
    require(session, "audit.read")
    stmt = select(AuditEvent, col(Convoy.code)).outerjoin(
        Convoy,
        Convoy.id == AuditEvent.convoy_id,  # type: ignore[arg-type]
    )
    if convoy:
        from models.convoy.store import get_convoy

        stmt = stmt.where(col(AuditEvent.convoy_id) == get_convoy(session, convoy).id)
    if since is not None:
        stmt = stmt.where(col(AuditEvent.at) >= since)
    if action:
        stmt = stmt.where(col(AuditEvent.action).startswith(action))
    rows = session.execute(stmt.order_by(col(AuditEvent.id).desc()).limit(limit)).all()
    return [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "actor": e.actor,
            "actor_kind": e.actor_kind,
            "role": e.role or None,
            "via": e.via,
            "action": e.action,
            "subject": e.subject,
            "convoy": code,
            "before": e.before,
            "after": e.after,
        }
        for e, code in reversed(rows)
    ]
