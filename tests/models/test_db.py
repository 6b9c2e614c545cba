"""The engine's writer queue on SQLite: threads of one process, and processes of one machine,
that write wait their turn on a lock instead of in SQLite's busy handler, and always get it
back."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from config import Settings
from models.db import WriterQueue, get_engine, writer_queue


@pytest.fixture
def engine(settings: Settings) -> Engine:
    engine = get_engine(settings)
    if engine.dialect.name != "sqlite":
        pytest.skip("the writer queue is SQLite's (PostgreSQL locks rows)")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE tally (n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO tally VALUES (0)"))
    return engine


def _queue(engine: Engine) -> WriterQueue:
    queue = writer_queue(engine)
    assert queue is not None
    return queue


def _no_busy_wait(conn: object) -> None:
    """SQLite itself would refuse this connection's write at once if the database were taken."""
    conn.exec_driver_sql("PRAGMA busy_timeout=0")  # type: ignore[attr-defined]


def test_a_writer_waits_its_turn_on_the_queue_not_in_sqlite(engine: Engine) -> None:
    queue = _queue(engine)
    done: list[int] = []
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with engine.connect() as conn:
                _no_busy_wait(conn)
                conn.execute(text("UPDATE tally SET n = n + 10"))
                conn.commit()
                done.append(1)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    with engine.connect() as first:
        first.execute(text("UPDATE tally SET n = n + 1"))  # holds SQLite's write lock now
        assert queue.lock.locked() and queue.holder is not None
        other = threading.Thread(target=second_writer)
        other.start()
        other.join(0.3)
        assert other.is_alive() and not done  # waiting on the queue, not refused by SQLite
        first.commit()
    other.join(10)
    assert not errors, errors
    assert done == [1]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM tally")).scalar_one() == 11
    assert not queue.lock.locked() and queue.holder is None


def test_the_turn_is_given_back_on_rollback_and_by_a_connection_returned_or_broken_mid_write(
    engine: Engine,
) -> None:
    queue = _queue(engine)
    with engine.connect() as conn:
        conn.execute(text("UPDATE tally SET n = 5"))
        assert queue.lock.locked()
        conn.rollback()
        assert not queue.lock.locked()
        conn.execute(text("UPDATE tally SET n = 6"))
        assert queue.lock.locked()
    # Closed without a commit: the pool's reset rolled it back and gave the turn back.
    assert not queue.lock.locked() and queue.holder is None
    with engine.connect() as conn:
        conn.execute(text("UPDATE tally SET n = 7"))
        conn.invalidate()  # a broken connection is closed, not rolled back
    assert not queue.lock.locked() and queue.holder is None
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM tally")).scalar_one() == 0


def test_reads_do_not_take_a_turn(engine: Engine) -> None:
    queue = _queue(engine)
    with engine.connect() as conn:
        conn.execute(text("SELECT n FROM tally")).all()
        assert not queue.lock.locked()


def test_a_writer_kept_waiting_too_long_goes_to_sqlite_which_decides(engine: Engine) -> None:
    queue = _queue(engine)
    queue.busy_timeout = 0.2
    with engine.connect() as first:
        first.execute(text("UPDATE tally SET n = 1"))
        with engine.connect() as second:
            _no_busy_wait(second)
            with pytest.raises(OperationalError, match="database is locked"):
                second.execute(text("UPDATE tally SET n = 2"))
        first.commit()
    assert not queue.lock.locked()


def test_many_threads_writing_at_once_lose_nothing(engine: Engine) -> None:
    errors: list[BaseException] = []

    def add(times: int) -> None:
        try:
            for _ in range(times):
                with engine.begin() as conn:
                    conn.execute(text("UPDATE tally SET n = n + 1"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(25,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM tally")).scalar_one() == 200
    assert not _queue(engine).lock.locked()


# Another process: its engine (the project's own) writes with SQLite's busy wait off, so SQLite
# would refuse it at once if it went to the database while this process writes.
OTHER_PROCESS = """
import sys, time
from sqlalchemy import text
from models.db import get_engine
engine = get_engine()
with engine.connect() as conn:
    conn.exec_driver_sql("PRAGMA busy_timeout=0")
    print("ready", flush=True)
    t = time.monotonic()
    conn.execute(text("UPDATE tally SET n = n + 10"))
    conn.commit()
    print(f"waited {time.monotonic() - t:.3f}", flush=True)
"""


def test_a_writer_in_another_process_waits_its_turn_too(engine: Engine) -> None:
    queue = _queue(engine)
    assert queue.path.endswith(".writers")
    with engine.connect() as first:
        first.execute(text("UPDATE tally SET n = n + 1"))  # this process has the turn
        other = subprocess.Popen(
            [sys.executable, "-c", OTHER_PROCESS], env=os.environ.copy(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert other.stdout is not None
        assert other.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        assert other.poll() is None  # still waiting for its turn, not refused
        first.commit()
    out, err = other.communicate(timeout=60)
    assert other.returncode == 0, err
    assert float(out.split()[-1]) >= 0.3  # it waited for this process's commit
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM tally")).scalar_one() == 11
