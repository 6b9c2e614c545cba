"""Shared fixtures: a fresh real database per test, and a small convoy factory.

The database is SQLite under ``tmp_path`` by default. With ``CONVOY_TEST_DATABASE_URL`` set
(e.g. ``postgresql+psycopg://convoy:convoy@127.0.0.1:5432/convoy_test``) every test gets a new,
empty schema on that server instead: the test's ``CONVOY_DATABASE_URL`` selects it through the
connection options (``search_path``), so subprocesses given that URL use the same schema. The
schema is dropped after the test (``make test-pg``).
"""

from __future__ import annotations

import itertools
import os
import random
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError

# Prefect keeps its state out of the user's home during tests (set before Prefect is imported).
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="convoy-prefect-"))
import flows  # noqa: F401  (quiet Prefect defaults)
from config import Settings, reset_settings
from models.convoy.lifecycle import Mode
from models.convoy.store import (
    ConvoySpec,
    PassengerRow,
    add_passengers,
    upsert_convoy,
    upsert_enterprise,
)
from models.db import dispose_engines, session_scope
from models.intake.identity import synthetic_id, synthetic_mobile

SHANGHAI = ZoneInfo("Asia/Shanghai")


TEST_DATABASE_URL = os.environ.get("CONVOY_TEST_DATABASE_URL", "")
_SCHEMA_PREFIX = "convoy_test_"
_schema_numbers = itertools.count(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks ``db`` the tests that use the test database (the ``settings`` fixture: nothing else
    reaches it) and ``browser`` those that drive headless Chromium. ``make test-pg`` runs
    ``db and not browser``: the others exercise no database code and ran in ``make test``."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if "settings" in used:
            item.add_marker(pytest.mark.db)
        if {"browser", "chromium_path"} & used:
            item.add_marker(pytest.mark.browser)


def _drop_schema(admin: Engine, schema: str) -> None:
    """Close whatever still uses the schema (connections are tagged with its name), drop it."""
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :name AND pid <> pg_backend_pid()"
            ),
            {"name": schema},
        )
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def test_database() -> Iterator[Engine | None]:
    """An AUTOCOMMIT engine on ``CONVOY_TEST_DATABASE_URL`` (None: SQLite per test).

    Schemas left behind by an earlier run that was killed are dropped first."""
    if not TEST_DATABASE_URL:
        yield None
        return
    if make_url(TEST_DATABASE_URL).get_backend_name() != "postgresql":
        shown = make_url(TEST_DATABASE_URL)  # str() masks the password
        pytest.exit(f"CONVOY_TEST_DATABASE_URL must be a PostgreSQL URL, not {shown}")
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        with admin.connect() as conn:
            names = list(conn.execute(text("SELECT nspname FROM pg_namespace")).scalars())
    except OperationalError as exc:
        pytest.exit(
            f"The test database {admin.url} cannot be reached ({exc.orig}); start PostgreSQL "
            "and create the role and database as .ci/run does, or unset CONVOY_TEST_DATABASE_URL."
        )
    for name in names:
        m = re.fullmatch(rf"{_SCHEMA_PREFIX}(\d+)_\d+", name)
        if m and int(m[1]) != os.getpid() and not _pid_alive(int(m[1])):
            _drop_schema(admin, name)
    yield admin
    admin.dispose()


def _schema_url(schema: str) -> str:
    """The test URL narrowed to one schema; the connections carry its name for clean-up."""
    url = make_url(TEST_DATABASE_URL)
    options = " ".join(filter(None, [url.query.get("options", ""), f"-csearch_path={schema}"]))
    url = url.update_query_dict({"options": options, "application_name": schema})
    return url.render_as_string(hide_password=False)


@pytest.fixture
def settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, test_database: Engine | None
) -> Iterator[Settings]:
    """Settings pointing at a fresh var/ folder and a fresh, empty database: SQLite in var/,
    or a new PostgreSQL schema when ``CONVOY_TEST_DATABASE_URL`` is set."""
    var = tmp_path / "var"
    monkeypatch.setenv("CONVOY_VAR_DIR", str(var))
    schema = ""
    if test_database is None:
        # Empty even if the shell or a .env file names a database: tests never touch it.
        monkeypatch.setenv("CONVOY_DATABASE_URL", "")
    else:
        schema = f"{_SCHEMA_PREFIX}{os.getpid()}_{next(_schema_numbers)}"
        with test_database.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        monkeypatch.setenv("CONVOY_DATABASE_URL", _schema_url(schema))
    dispose_engines()
    s = reset_settings()
    try:
        yield s
    finally:
        dispose_engines()
        if test_database is not None:
            _drop_schema(test_database, schema)
        reset_settings()


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment for a subprocess of a test: this test's var/ folder and database."""
    return {
        **os.environ,
        "CONVOY_VAR_DIR": str(settings.var_dir),
        "CONVOY_DATABASE_URL": settings.database_url,
        **extra,
    }


ENTERPRISES = ("象山示范针织有限公司", "宁波甬丰模具有限公司")


@pytest.fixture
def make_convoy(settings: Settings) -> Callable[..., str]:
    """Create a bus convoy 蒲城县 → 象山县 with ``n`` synthetic passengers; returns its code."""

    def make(code: str = "BUS-T1", n: int = 20, seed: int = 1) -> str:
        rng = random.Random(seed)
        with session_scope() as session:
            for name in ENTERPRISES:
                upsert_enterprise(session, name, contact_name="王经理", address="象山县丹东路1号")
            convoy = upsert_convoy(
                session,
                ConvoySpec(
                    code=code,
                    mode=Mode.BUS,
                    vehicle="浙B·T0001",
                    origin_name="陕西省渭南市蒲城县",
                    origin=(34.955, 109.586),
                    origin_adcode="610526",
                    destination_name="浙江省宁波市象山县",
                    destination=(29.477, 121.869),
                    destination_adcode="330225",
                    waypoints=[{"name": "合肥市", "lat": 31.82, "lon": 117.23}],
                    planned_departure=datetime(2020, 2, 20, 14, 0, tzinfo=SHANGHAI),
                    planned_arrival=datetime(2020, 2, 21, 16, 0, tzinfo=SHANGHAI),
                    campaign="test campaign",
                ),
            )
            rows = [
                PassengerRow(
                    name=f"工人{i}",
                    id_number=synthetic_id(rng, "610526"),
                    phone=synthetic_mobile(rng),
                    employer=ENTERPRISES[i % 2],
                )
                for i in range(n)
            ]
            add_passengers(session, convoy, rows)
        return code

    return make
