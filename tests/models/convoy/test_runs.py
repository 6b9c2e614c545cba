"""A convoy's one active flow run: claimed at start, refused to a second live run, taken over
from a run that is gone, re-claimed by the same run after a suspension; two runs starting at
once are serialised (no key violation). On the real database."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from config import Settings
from models.convoy.runs import RunHolder, beat, claim_run, current_run, held_subjects, release_run
from models.db import session_scope
from models.errors import RunBusyError

NOW = datetime(2020, 2, 20, 14, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def claim(run: str, live: Callable[[RunHolder], bool] = lambda h: True) -> RunHolder | None:
    with session_scope() as s:
        return claim_run(s, "convoy:BUS-R1", run, NOW, live, what="Convoy BUS-R1")


def test_one_live_run_per_convoy(settings: Settings) -> None:
    assert claim("run-a") is None
    with pytest.raises(RunBusyError, match="Convoy BUS-R1 already has an active flow run"):
        claim("run-b")
    # The same run, restarted after a suspension, takes itself over.
    before = claim("run-a")
    assert before is not None and before.flow_run_id == "run-a" and before.here
    # A run that is gone is taken over.
    assert claim("run-b", live=lambda h: False).flow_run_id == "run-a"  # type: ignore[union-attr]
    with session_scope() as s:
        holder = current_run(s, "convoy:BUS-R1")
        assert holder is not None and holder.flow_run_id == "run-b" and holder.process_alive()
        assert beat(s, "convoy:BUS-R1", "run-b", NOW) and not beat(s, "convoy:BUS-R1", "x", NOW)
        assert set(held_subjects(s, "convoy:")) == {"convoy:BUS-R1"}
        release_run(s, "convoy:BUS-R1", "run-a")  # not its holder: nothing happens
        assert current_run(s, "convoy:BUS-R1") is not None
        release_run(s, "convoy:BUS-R1", "run-b")
        assert current_run(s, "convoy:BUS-R1") is None and held_subjects(s, "convoy:") == {}
    assert claim("run-c") is None  # a closed convoy's run let it go


def test_two_runs_starting_at_once(settings: Settings) -> None:
    outcome: list[str] = []
    barrier = threading.Barrier(4)

    def start(run: str) -> None:
        barrier.wait()
        try:
            claim(run)
            outcome.append("claimed")
        except RunBusyError:
            outcome.append("refused")
        except Exception as exc:  # a key violation or 'database is locked' would land here
            outcome.append(repr(exc))

    threads = [threading.Thread(target=start, args=(f"run-{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcome) == ["claimed", "refused", "refused", "refused"]
