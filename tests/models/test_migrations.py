"""Alembic migrations: the revisions build exactly the schema the models describe (a test fails
when a model changes without a migration), and a database made by release 0.1 (create_all, no
version table) is upgraded in place with its data kept. On SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from config import Settings
from models.db import (
    FIRST_REVISION,
    alembic_config,
    dispose_engines,
    get_engine,
    import_table_modules,
    init_db,
    migrate,
)


def _head() -> str:
    with get_engine().connect() as conn:
        head = ScriptDirectory.from_config(alembic_config(conn)).get_current_head()
    assert head
    return head


def _version(conn: object) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()  # type: ignore[arg-type]


def test_the_revisions_build_exactly_the_schema_of_the_models(settings: Settings) -> None:
    import_table_modules()
    engine = get_engine(settings)
    with engine.connect() as conn:
        command.upgrade(alembic_config(conn), "head")  # every revision, from nothing
        conn.commit()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
        assert diff == [], f"models and migrations differ (write a revision): {diff}"
        assert _version(conn) == _head()


def test_a_new_database_is_created_and_stamped_at_the_newest_revision(
    settings: Settings,
) -> None:
    engine = init_db(settings)
    with engine.connect() as conn:
        assert _version(conn) == _head()
        assert {"convoy", "passenger", "custody_event"} <= set(inspect(conn).get_table_names())
    assert migrate(engine) == "upgraded"  # again: nothing to do, nothing lost


def test_a_release_0_1_database_is_upgraded_with_its_data(settings: Settings) -> None:
    import_table_modules()
    engine = get_engine(settings)
    with engine.connect() as conn:  # what release 0.1 left: its tables, no version table
        command.upgrade(alembic_config(conn), FIRST_REVISION)
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(
            text(
                "INSERT INTO campaign (name, city, description, created_at) "
                "VALUES ('old campaign', '宁波市', 'from 0.1', :at)"
            ),
            {"at": datetime(2020, 2, 1, tzinfo=UTC).replace(tzinfo=None)},
        )
        conn.commit()
    dispose_engines()
    engine = init_db(settings)
    with engine.connect() as conn:
        assert _version(conn) == _head()
        rows = conn.execute(text("SELECT name, city FROM campaign")).all()
    assert [tuple(r) for r in rows] == [("old campaign", "宁波市")]
