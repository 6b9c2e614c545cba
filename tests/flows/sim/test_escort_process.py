"""A campaign's simulated escorts in a process of their own: an error there, or the process
ending, gives the convoy up in the campaign's process (the flow waiting for it stops)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from config import Settings
from flows.service.waits import forget_abandoned, poll
from flows.sim.escort_process import EscortProcess, current, escorts_in_own_process
from models.errors import ConvoyOpsError, NotFoundError


def _waiting(_subject: str) -> dict[str, str]:
    return {"status": "waiting"}


def test_an_error_of_the_escorts_reaches_the_flow_waiting_for_them(settings: Settings) -> None:
    with escorts_in_own_process() as escorts:
        assert current() is escorts
        escorts.start("NO-SUCH-CONVOY")
        # A step of that convoy waiting for its escorts stops with their error.
        with pytest.raises(NotFoundError, match="no convoy with the code 'NO-SUCH-CONVOY'"):
            poll(_waiting, "NO-SUCH-CONVOY", 0.01, 60)
        error = escorts.finish("NO-SUCH-CONVOY")
        assert isinstance(error, NotFoundError)
        forget_abandoned("NO-SUCH-CONVOY")
    assert current() is None


def test_the_process_ending_gives_up_every_convoy_it_played(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-GONE", n=5)
    escorts = EscortProcess()
    try:
        escorts.start(code, speed=1.0)  # real time: its next report is hours away
        os.kill(escorts.pid, signal.SIGKILL)
        with pytest.raises(ConvoyOpsError, match="process ended"):
            poll(_waiting, code, 0.01, 60)
        error = escorts.finish(code)
        assert isinstance(error, ConvoyOpsError) and "exit status -9" in str(error)
    finally:
        forget_abandoned(code)
        escorts.close()


def test_ctrl_c_on_the_terminal_leaves_the_decision_to_the_campaigns_process(
    settings: Settings,
) -> None:
    escorts = EscortProcess()
    try:
        # Ctrl-C goes to the terminal's process group: the escorts' process is not in ours.
        assert os.getpgid(escorts.pid) != os.getpgid(0)
        escorts.start("NO-SUCH-CONVOY")
        assert isinstance(escorts.finish("NO-SUCH-CONVOY"), NotFoundError)  # it is serving
        os.kill(escorts.pid, signal.SIGINT)  # an interrupt sent to it all the same
        time.sleep(0.3)
        escorts.start("NO-SUCH-CONVOY")  # still playing what it is told
        assert isinstance(escorts.finish("NO-SUCH-CONVOY"), NotFoundError)
    finally:
        forget_abandoned("NO-SUCH-CONVOY")
        escorts.close()


def _musters(code: str) -> int:
    from sqlalchemy import text

    from models.db import get_engine

    with get_engine().connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM checkin JOIN convoy ON convoy.id = checkin.convoy_id "
                    "WHERE convoy.code = :code AND checkin.kind = 'muster'"
                ),
                {"code": code},
            ).scalar_one()
        )


def test_a_report_of_the_escorts_wakes_the_step_waiting_for_it(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    """The step polls once a minute here; the escorts' muster roll, recorded in their process,
    wakes it (``{"reported": code}`` → ``flows.service.waits.wake``) within seconds."""
    code = make_convoy("BUS-WAKE", n=5)

    def muster_taken(subject: str) -> dict[str, str]:
        return {"status": "done" if _musters(subject) else "waiting"}

    with escorts_in_own_process() as escorts, ThreadPoolExecutor(1) as pool:
        t0 = time.monotonic()
        waiting = pool.submit(poll, muster_taken, code, 60.0, 120.0)
        time.sleep(0.3)  # the step is waiting before the escorts start
        escorts.start(code)
        assert waiting.result(timeout=90)["status"] == "done"
        assert time.monotonic() - t0 < 30
        assert escorts.finish(code) is None
