"""The audit log on the real database: ORM writes caught with before/after, personal data
masked, refused writes leave nothing, bulk writes one row each, and the log is append-only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from config import Settings
from models.access.actors import Actor, acting_as, operator
from models.access.audit import AuditEvent, audit_log, clean, masked
from models.access.users import add_user
from models.convoy.lifecycle import Custody
from models.convoy.operations import hold_or_withdraw
from models.convoy.store import get_convoy, passengers, upsert_escort
from models.db import session_scope, utcnow
from models.errors import PermissionDeniedError, ValidationError


def rows() -> list[AuditEvent]:
    with session_scope() as s:
        return list(s.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())  # type: ignore[arg-type]


def test_orm_changes_are_recorded_masked(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-AU1", n=3)
    with acting_as(Actor("user", "wang", role="coordinator"), "api"), session_scope() as s:
        p = passengers(s, get_convoy(s, code))[0]
        old_phone, p.phone = p.phone, "13912345678"
        p.name = "张三丰"
        s.add(p)
    last = rows()[-1]
    assert (last.actor, last.role, last.via, last.action) == ("wang", "coordinator", "api",
                                                              "passenger.change")  # fmt: skip
    assert last.subject.startswith("passenger #") and last.convoy_id is not None
    assert last.after == {"name": "张**", "phone": "139****5678"}
    assert last.before is not None
    assert last.before["phone"] == old_phone[:3] + "****" + old_phone[-4:]
    assert "13912345678" not in str(last.after)


def test_added_rows_carry_every_column_masked(settings: Settings) -> None:
    with session_scope() as s:
        upsert_escort(s, "P1", name="周警官", phone="13812345678",
                      notify_url="mailto://user:secret@mail.example.com")  # fmt: skip
    last = rows()[-1]
    assert (last.actor_kind, last.actor, last.via) == ("system", "unattributed", "library")
    assert last.action == "escort.add" and last.subject == "escort P1"
    assert last.after is not None and last.after["phone"] == "138****5678"
    assert "secret" not in str(last.after) and last.before is None


def test_a_refused_write_writes_nothing(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-AU2", n=2)
    before = len(rows())
    manager = Actor("user", "zhang", role="manager")
    with (
        acting_as(manager, "cli"),
        pytest.raises(PermissionDeniedError, match="manager\\) may not load plans"),
        session_scope() as s,
    ):
        upsert_escort(s, "P2", name="钱警官")
    with (
        acting_as(manager, "cli"),
        pytest.raises(PermissionDeniedError, match="may not hold, withdraw"),
        session_scope() as s,
    ):
        hold_or_withdraw(s, code, 1, Custody.HELD, "fever", at=utcnow(), actor="x")
    assert len(rows()) == before
    with session_scope() as s:
        assert s.execute(text("SELECT count(*) FROM escort WHERE badge = 'P2'")).scalar() == 0


def test_bulk_writes_leave_one_row_each(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-AU3", n=30)
    imported = [r for r in rows() if r.action == "passengers.add"]
    assert len(imported) == 1 and imported[0].after == {
        "added": 30, "already_on_manifest": 0, "source": "manifest", "seats": "1-30",
    }  # fmt: skip
    with session_scope() as s:
        hold_or_withdraw(s, code, 7, Custody.WITHDRAWN, "left at 13812345678", at=utcnow(),
                         actor="P9")  # fmt: skip
    last = rows()[-1]
    assert last.action == "custody.withdrawn" and last.subject == f"convoy {code}"
    assert last.before == {"custody": {"registered": 1}}
    assert last.after is not None and last.after["seats"] == [7]
    assert last.after["reasons"] == ["left at 138****5678"]


def test_the_log_is_append_only(settings: Settings) -> None:
    with session_scope() as s:
        upsert_escort(s, "P3", name="孙警官")
    for sql in ("UPDATE audit_event SET actor = 'someone else'", "DELETE FROM audit_event"):
        with pytest.raises(DatabaseError, match="append-only"), session_scope() as s:
            s.execute(text(sql))
    with pytest.raises(ValidationError, match="append-only"), session_scope() as s:
        row = s.execute(select(AuditEvent)).scalars().first()
        assert row is not None
        row.actor = "someone else"
        s.add(row)
    assert [r.actor for r in rows()] == ["unattributed"]


def test_reading_the_log_needs_the_right(settings: Settings) -> None:
    with session_scope() as s:
        add_user(s, "root", "admin")
        add_user(s, "li", "permit_officer")
    with acting_as(operator("root"), "cli"), session_scope() as s:
        assert [r["action"] for r in audit_log(s)] == ["user.add", "user.add"]
        assert audit_log(s, action="user")[0]["subject"] == "user root"
    with (
        acting_as(operator("li"), "cli"),
        session_scope() as s,
        pytest.raises(PermissionDeniedError, match="may not read the audit log"),
    ):
        audit_log(s)


def test_clean_keeps_json_small_and_finite() -> None:
    assert clean(float("inf")) == "inf"
    assert clean("x" * 10_000).endswith("… (10000 characters)")
    assert len(clean(list(range(500)))) == 51
    assert masked({"id_number": "330225199001011234", "token_hash": "abc"}) == {
        "id_number": "3302**********1234", "token_hash": "***",
    }  # fmt: skip


def test_an_upgraded_database_refuses_changes_to_the_log_too(settings: Settings) -> None:
    from alembic import command

    from models.db import alembic_config, dispose_engines, get_engine, import_table_modules, init_db

    import_table_modules()
    with get_engine(settings).connect() as conn:  # a database of release 0.1, then upgraded
        command.upgrade(alembic_config(conn), "0001")
        conn.commit()
    dispose_engines()
    init_db(settings)
    with session_scope() as s:
        upsert_escort(s, "P4", name="李警官")
    with pytest.raises(DatabaseError, match="append-only"), session_scope() as s:
        s.execute(text("DELETE FROM audit_event"))
    assert len(rows()) == 1
