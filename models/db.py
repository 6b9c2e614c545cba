"""Database engine and sessions (SQLite by default, PostgreSQL for scale)."""

from __future__ import annotations

import fcntl
import importlib
import os
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, Table, bindparam, event, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine

from config import Settings, get_settings
from models.dbapi import MIGRATIONS_DIR, SQLITE_BUSY_SECONDS, Rows, head_revisions
from models.errors import BusyError

# Modules that define tables; importing them registers every table on SQLModel.metadata (the
# target of the migrations and of ``create_all`` for a new database).
TABLE_MODULES: tuple[str, ...] = (
    "models.convoy.tables",
    "models.tracking.tables",
    "models.tracking.alerts.tables",
    "models.tracking.lease",
    "models.notify.outbox",
    "models.intake.verification",
    "models.intake.registration",
    "models.permits.tables",
    "models.access.users",
    "models.access.audit",
    "models.desk.tables",
)

FIRST_REVISION = "0001"  # the schema of release 0.1, which made its tables with create_all


_engines: dict[str, Engine] = {}
_initialised: set[int] = set()  # id() of the engines whose database is up to date


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
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
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
            engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS}
            )
            event.listen(engine, "connect", _sqlite_pragmas)
            database = url.removeprefix("sqlite:///")
            on_disk = database != ":memory:"
            WriterQueue(
                engine,
                path=f"{database}.writers" if on_disk else "",
                turns_path=f"{database}.turns" if on_disk else "",
            )
        else:
            engine = create_engine(url, pool_pre_ping=True)
        _engines[url] = engine
    return engine


_writer_queues: weakref.WeakKeyDictionary[Engine, WriterQueue] = weakref.WeakKeyDictionary()
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC", "CREATE", "DROP", "ALTER")


class WriterQueue:
    """Writers of one SQLite database file wait their turn: the threads of this process on a
    lock, the processes of this machine on an ``flock`` of a file beside the database
    (``<database>.writers``). The turn is taken at a transaction's first write and given back
    when it commits or rolls back.

    SQLite has one writer at a time. Without the queue, a writer finding the database taken
    sleeps in SQLite's busy handler in growing steps (up to 100 ms) and looks again, however
    soon the writer finishes, and a busy writer elsewhere may take it again first each time.
    Waiting on a lock, the next writer starts as soon as the last one is done; between
    processes the waiting one looks every few milliseconds. After ``busy_timeout`` seconds a
    writer goes on without its turn and SQLite decides as before.

    A transaction may also take a turn on a key (one convoy, ``take_turn``) for the rest of
    its life: those of one key go one at a time, those of other keys go on. Unlike the
    writer's, a key's turn is held while the transaction reads and works, before it writes
    (the slots of a second lock file, ``<database>.turns``, between processes)."""

    # Between processes: how often a writer waiting for another process looks again (seconds).
    LOOK_AGAIN = (0.0002, 0.002)  # the first wait, and the longest (doubling in between)
    # Keys share this many turns (one byte of the turns file each): two keys in one slot wait
    # for each other, which is harmless.
    TURN_SLOTS = 1 << 16

    def __init__(
        self,
        engine: Engine,
        busy_timeout: float = SQLITE_BUSY_SECONDS,
        path: str = "",
        turns_path: str = "",
    ) -> None:
        self.lock = threading.Lock()
        self.holder: int | None = None  # id() of the DB-API connection writing now
        self.busy_timeout = busy_timeout
        self.path = path  # the lock file shared with other processes ("": this process only)
        self._file: tuple[int, Any] | None = None  # (pid, the open lock file) of this process
        self._flocked = False
        self.turns_path = turns_path  # the keys' lock file ("": this process only)
        self._turns_file: tuple[int, Any] | None = None
        self._guard = threading.Lock()  # for the two dicts below
        self._slots: dict[int, threading.Lock] = {}  # this process's lock of each slot in use
        self._turns: dict[int, list[int]] = {}  # id() of a DB-API connection: its slots
        _writer_queues[engine] = self
        event.listen(engine, "before_cursor_execute", self._before_execute)
        dialect = engine.dialect
        # The dialect is this engine's own. Its commit, rollback and close give the turn back
        # (the pool's reset on return rolls back: a connection given back mid-transaction
        # gives its turn back too, and so does one closed or invalidated).
        for name in ("do_commit", "do_rollback", "do_close"):
            setattr(dialect, name, self._giving_back(getattr(dialect, name)))

    def _giving_back(self, end: Callable[[Any], None]) -> Callable[[Any], None]:
        def wrapped(connection: Any) -> None:
            try:
                end(connection)
            finally:
                self.release(connection)

        return wrapped

    def _before_execute(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        raw = id(cursor.connection)
        # Called for every statement: only its first word is looked at (not a copy of all).
        if self.holder == raw or not statement[:16].lstrip()[:6].upper().startswith(_WRITES):
            return
        deadline = time.monotonic() + self.busy_timeout
        if not self.lock.acquire(timeout=self.busy_timeout):
            return
        if self.path and not self._flock(deadline):
            self.lock.release()
            return
        self.holder = raw

    def _flock(self, deadline: float) -> bool:
        """Take the other processes' turn (this thread holds this process's lock)."""
        if self._file is None or self._file[0] != os.getpid():  # opened again after a fork
            self._file = (os.getpid(), open(self.path, "a"))  # noqa: SIM115 (kept open)
        fd = self._file[1].fileno()
        if not self._look_until(lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB), deadline):
            return False
        self._flocked = True
        return True

    def _look_until(self, take: Callable[[], Any], deadline: float) -> bool:
        """Call ``take`` (a lock that raises BlockingIOError while another process has it)
        until it succeeds, looking again every few milliseconds; False at ``deadline``."""
        wait, longest = self.LOOK_AGAIN
        while True:
            try:
                take()
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(wait)
                wait = min(longest, wait * 2)
                continue
            return True

    def take_turn(self, connection: Any, key: str) -> None:
        """The turn on ``key`` for ``connection``'s transaction (a pool's proxy or the raw
        DB-API connection), kept until it commits, rolls back or closes; at once if it has it.

        A turn is taken before the transaction's first write: a writer never waits for a
        turn, so the two never wait for each other. A transaction that writes already gets
        a turn only if it is free at once. Raises ``BusyError`` when another transaction has
        kept the key's turn for ``busy_timeout`` seconds, or has it while this one writes."""
        raw = id(getattr(connection, "dbapi_connection", connection))
        slot = zlib.crc32(key.encode()) % self.TURN_SLOTS
        with self._guard:
            held = self._turns.setdefault(raw, [])
            if slot in held:
                return
            lock = self._slots.setdefault(slot, threading.Lock())
        writing = self.holder == raw
        deadline = time.monotonic() + (0.0 if writing else self.busy_timeout)
        taken = lock.acquire(blocking=False) if writing else lock.acquire(timeout=self.busy_timeout)
        if taken and self.turns_path:
            fd = self._turns_fd()
            took = lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, slot)  # noqa: E731
            if not self._look_until(took, deadline):
                lock.release()
                taken = False
        if not taken:
            raise BusyError(
                f"Another transaction has kept {key} busy for more than "
                f"{self.busy_timeout:g} seconds; try again."
                if not writing
                else f"{key} is busy in another transaction; try again."
            )
        held.append(slot)

    def _turns_fd(self) -> int:
        """This process's one open turns file: closing any other would give back all of its
        turns (POSIX record locks belong to the process)."""
        with self._guard:
            if self._turns_file is None or self._turns_file[0] != os.getpid():  # after a fork
                self._turns_file = (os.getpid(), open(self.turns_path, "a"))  # noqa: SIM115
            return int(self._turns_file[1].fileno())

    def _give_turns_back(self, raw: int) -> None:
        with self._guard:
            slots = self._turns.pop(raw, None)
        for slot in slots or ():
            if self.turns_path:
                fcntl.lockf(self._turns_fd(), fcntl.LOCK_UN, 1, slot)
            self._slots[slot].release()

    def release(self, connection: Any) -> None:
        """Give the turns back that ``connection`` (a pool's proxy or the raw one) has: the
        writer's and its keys'."""
        raw = getattr(connection, "dbapi_connection", connection)
        if self.holder is not None and self.holder == id(raw):
            self.holder = None
            if self._flocked and self._file is not None:
                self._flocked = False
                fcntl.flock(self._file[1].fileno(), fcntl.LOCK_UN)
            self.lock.release()
        if self._turns:
            self._give_turns_back(id(raw))


def writer_queue(engine: Engine) -> WriterQueue | None:
    """The engine's ``WriterQueue`` (SQLite files only)."""
    return _writer_queues.get(engine)


def import_table_modules() -> None:
    for module in TABLE_MODULES:
        importlib.import_module(module)


def alembic_config(connection: Connection) -> Any:
    """Alembic's configuration for our migrations, on an open connection (no ini file)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


@contextmanager
def _schema_lock(connection: Connection) -> Iterator[None]:
    """One process at a time changes the schema: an advisory lock on PostgreSQL, a lock file
    beside the database file on SQLite."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(4242017)")
        yield
        return
    database = connection.engine.url.database or ""
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def migrate(engine: Engine) -> str:
    """Bring the database's schema to the newest revision; says what it did.

    A new, empty database gets every table at once and is stamped with the newest revision;
    a database made by release 0.1 (tables, no ``alembic_version``) is stamped with the first
    revision and upgraded; any other is upgraded from where it stands."""
    from alembic import command
    from sqlalchemy import inspect

    import_table_modules()
    with engine.connect() as conn, _schema_lock(conn):
        cfg = alembic_config(conn)
        tables = set(inspect(conn).get_table_names())
        if not tables - {"alembic_version"}:
            SQLModel.metadata.create_all(conn)
            command.stamp(cfg, "head")
            done = "created"
        else:
            if "alembic_version" not in tables:
                command.stamp(cfg, FIRST_REVISION)
            command.upgrade(cfg, "head")
            done = "upgraded"
        conn.commit()
    return done


def _up_to_date(engine: Engine) -> bool:
    """Whether the database is stamped with exactly the newest revisions (then nothing to do)."""
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):  # a new or a 0.1 database
            return False
        stamped = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    return bool(stamped) and stamped == head_revisions()


def init_db(settings: Settings | None = None) -> Engine:
    """The engine, its database brought to the newest schema first (once per process)."""
    engine = get_engine(settings)
    key = id(engine)  # engines live until ``dispose_engines``, which forgets them all
    if key not in _initialised:
        if _up_to_date(engine):
            import_table_modules()  # every table known, as after a migration (foreign keys)
        else:
            migrate(engine)
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
    key = (dialect, table, tuple(index_elements) if index_elements is not None else None)
    # Built once per table (statements are immutable): executed with its values as parameters
    # (``execute(stmt, row)``), a row's insert skips building and keying a statement.
    found = _insert_ignore.get(key)
    if found is not None:
        return found
    stmt: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        stmt = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:
        raise NotImplementedError(f"Convoy Ops supports SQLite and PostgreSQL, not {dialect}.")
    stmt = stmt.on_conflict_do_nothing(index_elements=index_elements)
    built: Insert = stmt.execution_options(preserve_rowcount=True)
    _insert_ignore[key] = built
    return built


_insert_ignore: dict[tuple[str, Table, tuple[str, ...] | None], Insert] = {}


def driver_processor(conn: Connection, column: Any) -> Callable[[Any], Any]:
    """What turns a value into the form the driver stores in ``column`` (the column type's
    processing, as SQLAlchemy applies it to each row): for values given to
    ``execute_at_driver``."""
    # The dialect's own form of the type (SQLite's DATETIME writes a fixed text format).
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process if process is not None else _as_is


def _as_is(value: Any) -> Any:
    return value


def driver_value(conn: Connection, column: Any, value: Any) -> Any:
    """``value`` as the driver stores it in ``column`` (``driver_processor``)."""
    return driver_processor(conn, column)(value)


def insert_columns(table: Table, names: Sequence[str]) -> Insert:
    """``INSERT`` of these columns of ``table``, each bound by its own name: the statement to
    give ``execute_at_driver`` rows keyed by column name (built once, at import)."""
    return insert(table).values({name: bindparam(name) for name in names})


def execute_at_driver(conn: Connection, stmt: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """``conn.execute(stmt, rows)`` for many rows without SQLAlchemy's work for each: the
    statement is compiled once per dialect and the rows go to the driver's ``executemany`` as
    they are. No column type processes them: a value needing it (a time, say) must be given as
    the driver stores it (``driver_value``). The writer queue and the transaction are the
    connection's, as for any statement."""
    if not rows:
        return
    key = (id(stmt), conn.dialect.name)
    found = _compiled_for_driver.get(key)
    if found is None or found[0] is not stmt:
        compiled = stmt.compile(dialect=conn.dialect)
        order = tuple(compiled.positiontup) if compiled.positional else None
        found = (stmt, str(compiled), order)
        _compiled_for_driver[key] = found
    _, sql, order = found
    if order is not None:
        conn.exec_driver_sql(sql, [tuple(row[name] for name in order) for row in rows])
    else:
        conn.exec_driver_sql(sql, [dict(row) for row in rows])


_compiled_for_driver: dict[tuple[int, str], tuple[Any, str, tuple[str, ...] | None]] = {}

# How many values one ``IN (…)`` lookup binds: well within every driver's limit of bound
# parameters (SQLite's was 999 before 3.32), with room for the statement's others.
IN_CHUNK = 500

V = TypeVar("V")


def in_chunks(values: Sequence[V], size: int = IN_CHUNK) -> Iterator[Sequence[V]]:
    """``values`` in runs of at most ``size``: one ``IN (…)`` lookup each."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


M = TypeVar("M", bound=SQLModel)


def locked_row(session: Session, model: type[M], key: Mapping[str, Any], **defaults: Any) -> M:
    """The row of ``model`` whose columns equal ``key``, locked until the transaction ends (a
    row lock on PostgreSQL; SQLite has one writer anyway), made first from ``key`` and
    ``defaults`` when there is none. Race-free (``INSERT … ON CONFLICT DO NOTHING``): two
    transactions asking at once queue on the lock instead of both inserting."""
    stmt = (
        select(model).filter_by(**key).with_for_update().execution_options(populate_existing=True)
    )
    row = session.execute(stmt).scalars().first()
    if row is None:
        table = model.__table__  # type: ignore[attr-defined]
        session.connection().execute(insert_ignore(session, table).values(**key, **defaults))
        row = session.execute(stmt).scalars().one()
    return row


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


def session_rows(session: Session) -> Rows:
    """``models.dbapi.Rows`` on this session: plain SQL with ``:name`` parameters, raw values
    (no column types applied, as the bare drivers give them)."""
    from sqlalchemy import text

    def rows(sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in session.execute(text(sql), dict(params))]

    return rows
