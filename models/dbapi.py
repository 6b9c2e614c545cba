"""Reading with the database driver itself, without SQLAlchemy.

A command that only reads (``convoy convoys``) would spend most of its time importing the ORM.
It reads through ``reading()`` instead: plain SQL on a bare ``sqlite3`` or ``psycopg``
connection when the database exists and stands at the newest schema, and on the ORM's session
otherwise (``models.db`` then creates or migrates the database first, as every command does).
Queries are written once, with ``:name`` parameters, and run the same on both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from config import Settings, get_settings
from models.errors import DatabaseUnusableError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# How long an SQLite writer waits for the database before it is told it is locked (SQLite's
# busy timeout, the driver's, and the writer queue's: one figure).
SQLITE_BUSY_SECONDS = 30

Rows = Callable[[str, Mapping[str, Any]], list[tuple[Any, ...]]]
"""Runs one query (``:name`` parameters) and gives its rows as tuples."""

_NAMED = re.compile(r"(?<![:\w]):(\w+)")


def head_revisions() -> set[str]:
    """The newest revision ids, read from the revision files' ``revision`` and
    ``down_revision`` lines (no Alembic import: a command's start stays quick)."""
    ids: set[str] = set()
    downs: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        rev = re.search(r'^revision\s*=\s*["\']([^"\']+)', text, re.M)
        if rev:
            ids.add(rev.group(1))
        down = re.search(r"^down_revision\s*=\s*(.+)$", text, re.M)
        if down:
            downs.update(re.findall(r'["\']([^"\']+)["\']', down.group(1)))
    return ids - downs


def _connect(url: str) -> tuple[Any, type[Exception], str] | None:
    """A driver connection for ``url`` with its error class and paramstyle, or None when the
    driver cannot be used directly (another URL form, or no database file yet)."""
    if url.startswith("sqlite:///") and "?" not in url:
        path = url.removeprefix("sqlite:///")
        if path == ":memory:" or not Path(path).is_file():
            return None
        import sqlite3

        try:
            conn = sqlite3.connect(path, timeout=SQLITE_BUSY_SECONDS)
            conn.execute("PRAGMA query_only=ON")
        except sqlite3.Error:
            return None
        return conn, sqlite3.Error, "named"
    if url.startswith("postgresql+psycopg://"):
        import psycopg

        try:
            pg = psycopg.connect(url.replace("+psycopg", "", 1), autocommit=True)
        except psycopg.Error:
            return None  # the ORM's path reports it, in its own words
        return pg, psycopg.Error, "pyformat"
    return None


def shown_url(url: str) -> str:
    """A database URL as every message shows it: its password, if any, as ``***`` (as
    SQLAlchemy's ``render_as_string(hide_password=True)`` does, without importing it)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def error_line(url: str, exc: object) -> str:
    """The first line of a database error (no SQL after it), the URL's password as ``***``."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else "no reason given"
    password = urlsplit(url).password
    for secret in {password, unquote(password)} if password else ():
        first = first.replace(secret, "***")
    return first


def _runner(conn: Any, error: type[Exception], style: str, url: str) -> Rows:
    def rows(sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        if style == "pyformat":
            sql = _NAMED.sub(r"%(\1)s", sql)
        try:
            cur = conn.execute(sql, dict(params))
            return [tuple(r) for r in cur.fetchall()]
        except error as exc:
            message = f"The database {shown_url(url)} cannot be read: {error_line(url, exc)}"
            raise DatabaseUnusableError(message) from None

    return rows


def _at_head(rows: Rows) -> bool:
    try:
        stamped = {r[0] for r in rows("SELECT version_num FROM alembic_version", {})}
    except DatabaseUnusableError:  # no such table: a new or a release 0.1 database
        return False
    return bool(stamped) and stamped == head_revisions()


@contextmanager
def reading(settings: Settings | None = None) -> Iterator[Rows]:
    """Rows of the configured database: through its driver when it stands at the newest
    schema, else through ``models.db``'s session (which brings it there first)."""
    settings = settings or get_settings()
    found = _connect(settings.db_url)
    if found is not None:
        conn, error, style = found
        try:
            rows = _runner(conn, error, style, settings.db_url)
            if _at_head(rows):
                yield rows
                return
        finally:
            conn.close()
    from models.db import session_rows, session_scope

    with session_scope(settings) as session:
        yield session_rows(session)
