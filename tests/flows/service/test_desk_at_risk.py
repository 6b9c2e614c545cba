"""The service desk's same-day target on the monitor's accelerated clock: a request still open
near its target is announced once to its liaison officer, deputy and the coordinators; an
answered one never is."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from config import Settings, reset_settings
from flows.service.monitor import Monitor, accelerated_clock, clock, set_clock, tick
from models.access.actors import acting_as
from models.db import session_scope
from models.desk.requests import raise_request, resolve_request, take_request
from tests.models.desk.helpers import DEPUTY_URL, OFFICER_URL, ROOT, T0, as_link, outbox, setup_desk

COORDINATOR_URL = "json://127.0.0.1:9/duty-desk"


@pytest.fixture
def fast(settings: Settings) -> Iterator[Settings]:
    s = reset_settings(
        monitor_interval_minutes=0.005,  # 0.3 s
        outbox_poll_seconds=0.3,
        prefect_events=False,
        notify_roles={"coordinator": [COORDINATOR_URL]},
    )
    yield s
    set_clock(None)


def test_open_request_near_its_target_is_announced_once(
    make_convoy: Callable[..., str], fast: Settings
) -> None:
    world = setup_desk(make_convoy, n=0)
    with acting_as(as_link(world, 0), "api"), session_scope() as s:
        late = raise_request(s, world["ids"][0], kind="staff_return", text="返岗", at=T0).number
        done = raise_request(s, world["ids"][0], kind="other", text="已办", at=T0).number
    with acting_as(ROOT, "cli"), session_scope() as s:
        take_request(s, done, at=T0 + timedelta(minutes=10))
        resolve_request(s, done, "已答复", at=T0 + timedelta(minutes=20))
    # The target is the end of the day (23:59:59); the warning comes 2 h before. Field time
    # starts at 21:00 and runs 3,600× faster: the warning falls due within a real second.
    start = T0.replace(hour=21, minute=0)
    tick(start, fast)  # a check before the warning is due: nothing yet
    assert outbox(f"desk:{late}:at_risk") == []
    set_clock(accelerated_clock(start, 3600))
    with Monitor(fast):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not outbox(f"desk:{late}:at_risk"):
            time.sleep(0.2)
        while clock() < start + timedelta(hours=2, minutes=30) and time.monotonic() < deadline:
            time.sleep(0.2)  # more ticks after the first warning: none adds another
    warned = outbox(f"desk:{late}:at_risk")
    assert {m.recipient for m in warned} == {OFFICER_URL, DEPUTY_URL, COORDINATOR_URL}
    assert len(warned) == 3 and all(late in m.subject for m in warned)
    assert outbox(f"desk:{done}:at_risk") == []
