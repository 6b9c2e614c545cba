"""Kill a real `convoy run` process mid-flow (SIGKILL), run it again: it resumes, and no custody
event is duplicated."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from config import Settings
from models.convoy.custody import census, replay, states
from models.convoy.lifecycle import Custody, Stage
from models.convoy.store import get_convoy
from models.convoy.tables import CheckIn, CustodyEvent, Passenger, StageRun
from models.db import session_scope
from tests.conftest import child_env

CONVOY = [sys.executable, "-m", "flows.cli.main"]


def _stage(code: str) -> str:
    with session_scope() as s:
        return get_convoy(s, code).stage


def test_resume_after_sigkill(
    make_convoy: Callable[..., str], settings: Settings, prefect_api: str, tmp_path: Path
) -> None:
    code = make_convoy("BUS-K1", n=40)
    env = child_env(settings, PREFECT_API_URL=prefect_api)
    log = (tmp_path / "first.log").open("w")
    # Slow clock: the 26-hour trip takes ~30 s, so the process is surely killed under way.
    first = subprocess.Popen(
        [*CONVOY, "run", code, "--simulate", "--speed", "3000", "--poll", "0.1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).parents[2],
    )
    deadline = time.monotonic() + 120
    while _stage(code) not in (Stage.DEPARTED.value, Stage.IN_TRANSIT.value):
        assert first.poll() is None, (tmp_path / "first.log").read_text()
        assert time.monotonic() < deadline, "the flow did not reach departure in time"
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert _stage(code) in (Stage.DEPARTED.value, Stage.IN_TRANSIT.value)
    with session_scope() as s:
        done_before = s.execute(select(func.count()).select_from(StageRun)).scalar_one()
    assert 4 <= done_before <= 5

    second = subprocess.run(
        [*CONVOY, "run", code, "--simulate", "--speed", "0", "--poll", "0.05"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).parents[2],
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Traceback" not in second.stderr
    with session_scope() as s:
        convoy = get_convoy(s, code)
        assert convoy.stage == Stage.CLOSED.value
        c = census(s, convoy.id)
        assert c.total == 40 and c.in_custody == 0
        # Each passenger entered each state at most once, and the log replays to the table.
        events = s.execute(select(CustodyEvent.passenger_id, CustodyEvent.to_state)).all()
        assert len(events) == len(set(events))
        assert replay(s, convoy.id) == states(s, convoy.id)
        registered = s.execute(
            select(func.count()).where(CustodyEvent.to_state == Custody.REGISTERED.value)
        ).scalar_one()
        assert registered == s.execute(select(func.count()).select_from(Passenger)).scalar_one()
        assert s.execute(select(func.count()).select_from(StageRun)).scalar_one() == 9
        musters = s.execute(select(func.count()).where(CheckIn.kind == "muster")).scalar_one()
        assert musters == 1
