"""Reading through the bare driver: only a database at the newest schema is read that way; a
missing or older one goes through ``models.db``, which brings it there first."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from config import Settings
from models.db import dispose_engines
from models.dbapi import error_line, head_revisions, reading, shown_url
from models.errors import DatabaseUnusableError


def _stamped(rows: object) -> set[str]:
    return {r[0] for r in rows("SELECT version_num FROM alembic_version", {})}  # type: ignore[operator]


def test_a_database_at_the_newest_schema_is_read_by_the_driver(settings: Settings) -> None:
    with reading(settings) as first:  # a new database: made through models.db
        assert "_runner" not in first.__qualname__
        assert _stamped(first) == head_revisions()
    with reading(settings) as rows:
        assert "_runner" in rows.__qualname__
        assert rows("SELECT COUNT(*) FROM convoy WHERE code = :code", {"code": "X"}) == [(0,)]


def test_a_refused_query_is_one_sentence(settings: Settings) -> None:
    with reading(settings):
        pass
    with reading(settings) as rows, pytest.raises(DatabaseUnusableError) as caught:
        rows("SELECT no_such_column FROM convoy", {})
    message = str(caught.value)
    assert message.startswith(f"The database {shown_url(settings.db_url)} cannot be read: ")
    assert "no_such_column" in message and "\n" not in message


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://convoy:s3cret@127.0.0.1:5432/convoy",
        "postgresql+psycopg://convoy:p%40ss@db.example:5432/convoy?sslmode=require",
        "sqlite:////var/lib/convoy/convoy.db",
        "postgresql+psycopg://convoy@127.0.0.1/convoy",
    ],
)
def test_a_database_is_named_with_its_password_hidden_as_sqlalchemy_does(url: str) -> None:
    from sqlalchemy.engine import make_url

    assert shown_url(url) == make_url(url).render_as_string(hide_password=True)


def test_an_error_line_is_its_first_line_with_the_password_hidden() -> None:
    url = "postgresql+psycopg://convoy:p%40ss@db.example/convoy"
    error = 'connection failed: password "p@ss" refused for convoy:p%40ss\n[SQL: SELECT 1]'
    assert error_line(url, error) == 'connection failed: password "***" refused for convoy:***'
    assert error_line(url, "") == "no reason given"


def test_an_older_database_is_brought_to_the_newest_schema_first(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not settings.db_url.startswith("sqlite:///"):
        pytest.skip("an empty database file is an SQLite case")
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a file without tables or alembic_version
    monkeypatch.setenv("CONVOY_DATABASE_URL", f"sqlite:///{empty}")
    from config import reset_settings

    dispose_engines()
    mine = reset_settings()
    with reading(mine) as rows:
        assert "_runner" not in rows.__qualname__
        assert rows("SELECT COUNT(*) FROM passenger", {}) == [(0,)]
    with reading(mine) as rows:
        assert "_runner" in rows.__qualname__
