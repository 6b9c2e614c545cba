"""Scale-out on an existing engine (docs/operations.md): a Prefect server on PostgreSQL, a
process work pool, two workers on this machine, and several convoys run across them to
``closed``, each one flow run suspended between its check-ins. PostgreSQL only
(``make test-pg``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from config import Settings
from models.convoy.checkins import record_checkin
from models.convoy.lifecycle import Stage
from models.db import session_scope, utcnow
from tests.conftest import ENTERPRISES, TEST_DATABASE_URL
from tests.flows.service.serving import (
    ROOT,
    convoy,
    flow_run_of,
    read_run,
    serve_env,
    stage_of,
    wait_for,
)
from tests.flows.service.test_sender import free_port

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="the scale-out topology runs on PostgreSQL (make test-pg)"
)
CONVOYS = 3
PREFECT = str(Path(sys.executable).parent / "prefect")


@pytest.fixture
def prefect_on_postgres(tmp_path: Path) -> Iterator[str]:
    """A ``prefect server start`` on its own PostgreSQL database; its API URL."""
    url = make_url(TEST_DATABASE_URL)
    name = f"convoy_prefect_{os.getpid()}"
    admin = create_engine(url.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    port = free_port()
    db = url.set(drivername="postgresql+asyncpg", database=name).render_as_string(False)
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"),
           "PREFECT_SERVER_DATABASE_CONNECTION_URL": db}  # fmt: skip
    env.pop("PREFECT_API_URL", None)
    log = (tmp_path / "prefect-server.log").open("w")
    server = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    api = f"http://127.0.0.1:{port}/api"

    def up() -> bool:
        assert server.poll() is None, (tmp_path / "prefect-server.log").read_text()
        try:
            return httpx.get(f"{api}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, "the Prefect server on PostgreSQL", 300)
        yield api
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _next_checkin(code: str) -> tuple[str, dict[str, Any]] | None:
    """What the convoy's escorts report next (None: nothing, it is waiting for no one)."""
    from models.views.reports import convoy_status

    with session_scope() as s:
        status = convoy_status(s, code)
    kind = status["waiting_for"]
    if kind is None:
        return None
    nat = (utcnow() - timedelta(hours=6)).isoformat()
    payloads: dict[str, dict[str, Any]] = {
        "muster": {},
        "screening": {"results": [
            {"seat": n, "temperature": 36.5, "nat_result": "negative", "nat_time": nat,
             "health_code": "green"} for n in range(1, 5)]},
        "depart": {},
        "arrive": {},
        "arrival_screening": {"results": []},
    }  # fmt: skip
    if kind == "handoff":
        done = status["handed_off"]
        return kind, {"enterprise": ENTERPRISES[0 if done == 0 else 1], "received_by": "王经理"}
    return kind, payloads[kind]


@pytest.mark.timeout(3000)
def test_two_workers_run_several_convoys_to_closed(
    make_convoy: Callable[..., str],
    settings: Settings,
    prefect_on_postgres: str,
    tmp_path: Path,
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.service.live import resume_after, start_run

    api = prefect_on_postgres
    codes = [make_convoy(f"BUS-SO{i}", n=4, seed=i) for i in range(1, CONVOYS + 1)]
    env = {**serve_env(settings, free_port()), "PREFECT_API_URL": api}
    assert subprocess.run([PREFECT, "work-pool", "create", "convoy-test", "--type", "process"],
                          env=env, capture_output=True, timeout=120).returncode == 0  # fmt: skip
    deployed = convoy(env, "deploy", "--pool", "convoy-test")
    assert deployed.returncode == 0 and "convoy/convoy" in deployed.stdout, deployed.stderr
    logs = [(tmp_path / f"worker-{n}.log").open("w") for n in (1, 2)]
    workers = [
        subprocess.Popen(
            [
                PREFECT,
                "worker",
                "start",
                "--pool",
                "convoy-test",
                "--name",
                f"site-{n}",
                "--limit",
                "1",
            ],
            # The workers log each submission at INFO; the tests run Prefect at WARNING.
            env={**env, "PYTHONUNBUFFERED": "1", "PREFECT_LOGGING_LEVEL": "INFO"},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for n, log in zip((1, 2), logs, strict=True)
    ]
    try:
        # Each worker runs one flow at a time, so while one is busy with a convoy the other
        # takes the next: both sites take part whatever the order of their polls.
        for n in (1, 2):
            wait_for(
                lambda n=n: "started" in (tmp_path / f"worker-{n}.log").read_text(errors="replace"),
                f"worker site-{n} to start",
                300,
            )
        with temporary_settings({PREFECT_API_URL: api}):
            first = {code: start_run("convoy", code, {"code": code}, []) for code in codes}

            def step() -> bool:
                """Report for every suspended convoy; True once all are closed."""
                for code in codes:
                    run = flow_run_of(code)
                    if run is None or run.state is None or not run.state.is_paused():
                        continue
                    nxt = _next_checkin(code)
                    if nxt is None:
                        continue
                    with session_scope() as s:
                        record_checkin(s, code, nxt[0], nxt[1])
                    resume_after("convoy", code)
                return all(stage_of(code) == Stage.CLOSED.value for code in codes)

            wait_for(step, "every convoy to close", 2700, every=1.0)
            for code in codes:
                run = wait_for(
                    lambda code=code: (
                        (r := read_run(first[code].flow_run_id)).state.is_completed() and r
                    ),
                    f"the run of {code} to complete",
                )
                assert run.run_count == 1 and run.name == f"convoy-{code}"
    finally:
        for w in workers:
            w.send_signal(2)  # workers stop on SIGINT
        for w in workers:
            try:
                w.wait(timeout=60)
            except subprocess.TimeoutExpired:
                w.kill()
        for log in logs:
            log.close()
    # Both sites' workers took part.
    for n in (1, 2):
        text_ = (tmp_path / f"worker-{n}.log").read_text(errors="replace")
        assert f"Worker 'site-{n}' submitting flow run" in text_, text_
