"""A waiting step polls at its interval and looks at once when woken; the simulated escorts
waiting for a stage look at once when nudged."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import update

from config import Settings
from flows.service.waits import abandon, forget_abandoned, poll, wake
from flows.sim.simulator import ConvoySimulator
from models.convoy.lifecycle import Stage
from models.convoy.tables import Convoy
from models.db import session_scope


def test_a_woken_step_looks_at_once_instead_of_at_its_next_poll() -> None:
    ready = threading.Event()
    tries: list[float] = []

    def attempt(subject: str) -> dict[str, str]:
        tries.append(time.monotonic())
        return {"status": "done" if ready.is_set() else "waiting"}

    with ThreadPoolExecutor(1) as pool:
        t0 = time.monotonic()
        waiting = pool.submit(poll, attempt, "WAKE-1", 60.0, 120.0)
        time.sleep(0.2)
        ready.set()
        wake("WAKE-1")
        assert waiting.result(timeout=30)["status"] == "done"
    assert time.monotonic() - t0 < 10
    assert len(tries) == 2  # the first try, and the one the wake asked for


def test_a_wake_while_the_step_is_busy_is_not_lost() -> None:
    """Woken during its try (before it pauses): its next pause ends at once."""
    calls = 0

    def attempt(subject: str) -> dict[str, str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            wake("WAKE-2")  # what it waits for happens while it is still trying
            return {"status": "waiting"}
        return {"status": "done"}

    t0 = time.monotonic()
    assert poll(attempt, "WAKE-2", 60.0, 120.0)["status"] == "done"
    assert time.monotonic() - t0 < 10


def test_abandoning_a_subject_stops_its_step_at_once() -> None:
    def waiting(subject: str) -> dict[str, str]:
        return {"status": "waiting"}

    with ThreadPoolExecutor(1) as pool:
        t0 = time.monotonic()
        stuck = pool.submit(poll, waiting, "WAKE-3", 60.0, 120.0)
        time.sleep(0.2)
        abandon("WAKE-3", RuntimeError("the escorts stopped"))
        with pytest.raises(RuntimeError, match="the escorts stopped"):
            stuck.result(timeout=30)
    forget_abandoned("WAKE-3")
    assert time.monotonic() - t0 < 10


def test_nudged_escorts_see_the_stage_their_flow_reached_at_once(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-NUDGE", n=3)
    sim = ConvoySimulator(code)
    sim.nudged = True
    sim.POLL_NUDGED_SECONDS = 60.0  # only a nudge can end its wait in time
    with ThreadPoolExecutor(1) as pool:
        t0 = time.monotonic()
        waiting = pool.submit(sim.reached, Stage.VERIFIED)
        time.sleep(0.2)
        with session_scope() as session:
            session.execute(
                update(Convoy).where(Convoy.code == code).values(stage=Stage.VERIFIED.value)
            )
        sim.nudge()
        assert waiting.result(timeout=30) is True
    assert time.monotonic() - t0 < 10
    # Told to stop, a wait ends at once too (False: the stage was not reached).
    sim.stop()
    assert sim.reached(Stage.CLOSED) is False
