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
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from config import Settings
from models.db import WriterQueue, get_engine, in_chunks, writer_queue
from models.errors import BusyError


@pytest.fixture
def engine(settings: Settings) -> Engine:
    engine = get_engine(settings)
    if engine.dialect.name != "sqlite":
        pytest.skip("the writer queue is SQLite's (PostgreSQL locks rows)")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE tally (n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO tally VALUES (0)"))
    return engine


def _queue(engine: Engine, busy_timeout: float | None = None) -> WriterQueue:
    queue = writer_queue(engine)
    assert queue is not None
    if busy_timeout is not None:
        queue.busy_timeout = busy_timeout
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
    queue = _queue(engine, busy_timeout=0.2)
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


def _waits_for_this_process(first: Connection, script: str) -> None:
    """``script``, run in another process while ``first`` holds a turn, waits for it: it is
    still waiting after 0.5 s (not refused), and goes on once ``first`` commits."""
    other = subprocess.Popen(
        [sys.executable, "-c", script], env=os.environ.copy(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert other.stdout is not None
    assert other.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    assert other.poll() is None
    first.commit()
    out, err = other.communicate(timeout=60)
    assert other.returncode == 0, err
    assert float(out.split()[-1]) >= 0.3  # it waited for this process's commit


def test_a_writer_in_another_process_waits_its_turn_too(engine: Engine) -> None:
    queue = _queue(engine)
    assert queue.path.endswith(".writers")
    with engine.connect() as first:
        first.execute(text("UPDATE tally SET n = n + 1"))  # this process has the turn
        _waits_for_this_process(first, OTHER_PROCESS)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM tally")).scalar_one() == 11


# Turns on a key (``WriterQueue.take_turn``): what ``lock_convoy`` takes on SQLite.


def _take(conn: Connection, queue: WriterQueue, key: str) -> None:
    """As ``lock_convoy`` does: in the connection's transaction (begun by a read)."""
    conn.execute(text("SELECT 1"))
    queue.take_turn(conn.connection, key)


def test_a_turn_makes_a_second_transaction_on_the_key_wait_and_lets_others_write(
    engine: Engine,
) -> None:
    queue = _queue(engine)
    order: list[str] = []
    errors: list[BaseException] = []

    def second(key: str) -> None:
        try:
            with engine.connect() as conn:
                _take(conn, queue, key)
                order.append(f"took {key}")
                conn.execute(text("UPDATE tally SET n = n + 10"))
                conn.commit()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    with engine.connect() as first:
        _take(first, queue, "convoy A")
        # Holding a turn is not writing: the database's one writer is free.
        assert not queue.lock.locked()
        same = threading.Thread(target=second, args=("convoy A",))
        same.start()
        same.join(0.3)
        assert same.is_alive() and order == []  # waits for convoy A's turn
        # Another convoy's transaction takes its turn and writes meanwhile.
        other = threading.Thread(target=second, args=("convoy B",))
        other.start()
        other.join(10)
        assert order == ["took convoy B"]
        first.execute(text("UPDATE tally SET n = n + 1"))
        first.commit()  # gives convoy A's turn back
    same.join(10)
    assert not errors, errors
    assert order == ["took convoy B", "took convoy A"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM tally")).scalar_one() == 21
    assert not queue.lock.locked() and not any(queue._turns.values())


def test_a_turn_is_given_back_on_rollback_and_on_close_and_taken_once_per_transaction(
    engine: Engine,
) -> None:
    queue = _queue(engine, busy_timeout=0.2)
    with engine.connect() as conn:
        _take(conn, queue, "convoy A")
        _take(conn, queue, "convoy A")  # again in the same transaction: it has it
        conn.rollback()
        with engine.connect() as other:
            _take(other, queue, "convoy A")  # free again after the rollback
        _take(conn, queue, "convoy A")
    # Closed: the pool's reset rolled it back and gave the turn back.
    with engine.connect() as conn:
        _take(conn, queue, "convoy A")


def test_a_turn_kept_too_long_is_a_one_line_error_and_a_writer_never_waits_for_one(
    engine: Engine,
) -> None:
    queue = _queue(engine, busy_timeout=0.2)
    with engine.connect() as first:
        _take(first, queue, "convoy A")
        with engine.connect() as second:
            t = time.monotonic()
            with pytest.raises(BusyError, match=r"kept convoy A busy for more than 0\.2 seconds"):
                _take(second, queue, "convoy A")
            assert time.monotonic() - t >= 0.2
            second.execute(text("UPDATE tally SET n = 1"))  # writes: holds the one writer
            t = time.monotonic()
            with pytest.raises(BusyError, match="convoy A is busy in another transaction"):
                _take(second, queue, "convoy A")
            assert time.monotonic() - t < 0.15  # at once: first may be waiting for the writer
            _take(second, queue, "convoy B")  # a free one is taken while writing
            second.commit()
        first.commit()
    assert not queue.lock.locked() and not any(queue._turns.values())


OTHER_PROCESS_TURN = """
import time
from models.db import get_engine, writer_queue
engine = get_engine()
with engine.connect() as conn:
    print("ready", flush=True)
    t = time.monotonic()
    writer_queue(engine).take_turn(conn.connection, "convoy A")
    print(f"waited {time.monotonic() - t:.3f}", flush=True)
"""


def test_a_turn_holds_up_the_key_in_another_process_too(engine: Engine) -> None:
    queue = _queue(engine)
    assert queue.turns_path.endswith(".turns")
    with engine.connect() as first:
        _take(first, queue, "convoy A")
        _waits_for_this_process(first, OTHER_PROCESS_TURN)


@given(st.lists(st.integers(), max_size=2_000), st.integers(min_value=1, max_value=700))
def test_in_chunks_gives_every_value_once_in_order_in_runs_of_at_most_size(
    values: list[int], size: int
) -> None:
    chunks = list(in_chunks(values, size))
    assert [v for chunk in chunks for v in chunk] == values
    assert all(0 < len(chunk) <= size for chunk in chunks)
    assert len(chunks) == -(-len(values) // size)
