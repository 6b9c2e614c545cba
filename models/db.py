"""Database engine and sessions (SQLite by default, PostgreSQL for scale)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine

from config import Settings, get_settings

# Modules that define tables; ``init_db`` imports them so every table is created.
TABLE_MODULES: tuple[str, ...] = (
    "models.convoy.tables",
    "models.tracking.tables",
    "models.tracking.alerts.tables",
    "models.tracking.lease",
    "models.notify.outbox",
    "models.intake.verification",
    "models.intake.registration",
    "models.permits.tables",
)

_engines: dict[str, Engine] = {}
_initialised: set[str] = set()


class UTCDateTime(TypeDecorator[datetime]):
    """Stores timezone-aware datetimes as UTC and always returns them timezone-aware (UTC).

    SQLite has no time zone type; storing naive UTC and re-attaching UTC on the way out keeps
    comparisons correct on every backend. Naive input is refused: every time must say its zone.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"The time {value.isoformat()} has no time zone; give one.")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def get_engine(settings: Settings | None = None) -> Engine:
    """The engine for the configured database, created once per URL."""
    settings = settings or get_settings()
    url = settings.db_url
    engine = _engines.get(url)
    if engine is None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
        _engines[url] = engine
    return engine


def init_db(settings: Settings | None = None) -> Engine:
    """Create every table that does not exist yet (idempotent)."""
    for module in TABLE_MODULES:
        importlib.import_module(module)  # registers its tables on SQLModel.metadata
    engine = get_engine(settings)
    key = str(engine.url)
    if key not in _initialised:
        SQLModel.metadata.create_all(engine)
        _initialised.add(key)
    return engine


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    _initialised.clear()


def insert_ignore(
    bind: Session | Connection, table: Table, index_elements: Sequence[str] | None = None
) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` for the bind's database (SQLite or PostgreSQL).

    Add ``.values(...)`` and execute it; the result's ``rowcount`` is the number of rows
    actually inserted on both backends (PostgreSQL drivers report it for an INSERT only when
    SQLAlchemy is asked to keep it: ``preserve_rowcount``)."""
    dialect = (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name
    stmt: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        stmt = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:
        raise NotImplementedError(f"Convoy Ops supports SQLite and PostgreSQL, not {dialect}.")
    stmt = stmt.on_conflict_do_nothing(index_elements=index_elements)
    return stmt.execution_options(preserve_rowcount=True)


@contextmanager
def session_scope(settings: Settings | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(init_db(settings), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
