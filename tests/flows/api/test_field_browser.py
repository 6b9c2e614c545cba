"""An escort runs a whole convoy from the phone page at 390×844 in the system Chromium (every
non-local request blocked): muster → screening (the fever rule as the temperatures are typed) →
departure → entry applications → a position from the browser → arrival reported *offline*, kept
on the phone and sent once when the network returns → spot checks → handoff per enterprise with
a drawn signature. The page is served by a real uvicorn process (the tracker app) and the
convoy's flow runs as a real ``convoy run`` process that waits for the check-ins. Screenshots go
to docs/screenshots/."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from config import Settings
from models.access.audit import AuditEvent
from models.access.escort_links import escort_token
from models.convoy.lifecycle import Stage
from models.convoy.store import assign_escort, get_convoy, passengers, upsert_escort
from models.convoy.tables import CheckIn
from models.db import session_scope
from tests.browser import PHONE, Browser, launch, screenshot
from tests.conftest import SHANGHAI, child_env
from tests.flows.api import test_tracker
from tests.flows.service.serving import CONVOY, ROOT


@pytest.fixture
def server(settings: Settings, prefect_api: str, tmp_path: Path) -> Iterator[str]:
    """A real uvicorn process serving ``flows.api.tracker:create_app`` (the page's app), on the
    test's Prefect server as ``convoy serve`` would be; its log in ``tmp_path/http.log``."""
    port = test_tracker.free_port()
    env = child_env(settings, PREFECT_API_URL=prefect_api, PYTHONPATH=str(ROOT))
    log = tmp_path / "http.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.api.tracker", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).text == "ok":
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def shot(page: Any, name: str) -> None:
    """A screenshot from the top (the sticky header then sits where a phone shows it)."""
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, name)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with launch() as b:
        yield b


def _stage(code: str) -> str:
    with session_scope() as s:
        return get_convoy(s, code).stage


def wait_stage(code: str, stage: Stage, proc: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + 180
    while _stage(code) != stage.value:
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"the flow did not reach {stage.value}"
        time.sleep(0.2)


def _checkins(kind: str) -> list[CheckIn]:
    with session_scope() as s:
        return list(s.execute(select(CheckIn).where(CheckIn.kind == kind)).scalars())


@pytest.mark.timeout(600)
def test_an_escort_runs_a_convoy_from_the_phone_page(
    make_convoy: Callable[..., str],
    settings: Settings,
    prefect_api: str,
    server: str,
    browser: Browser,
    tmp_path: Path,
) -> None:
    code = make_convoy("BUS-WEB", n=4)
    with session_scope() as s:
        escort = upsert_escort(s, "NB3001", name="赵警官")
        assign_escort(s, get_convoy(s, code), escort)
        s.flush()
        token, _ = escort_token(escort)
        people = [(p.id_number, p.phone, p.name) for p in passengers(s, get_convoy(s, code))]
    log = tmp_path / "run.log"
    flow = subprocess.Popen(  # the convoy's flow run, waiting for the check-ins in its process
        [*CONVOY, "run", code, "--poll", "0.2"],
        env=child_env(settings, PREFECT_API_URL=prefect_api, PYTHONPATH=str(ROOT)),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    ctx = browser.context(
        PHONE, locale="zh-CN", timezone_id="Asia/Shanghai", has_touch=True,
        geolocation={"latitude": 34.62, "longitude": 112.45}, permissions=["geolocation"],
    )  # fmt: skip
    try:
        page = ctx.new_page()
        page.goto(f"{server}/field/{token}")
        assert page.locator("#step-muster .due").is_visible()
        html = page.content()
        for idn, phone, name in people:  # masked everywhere on the escort's phone
            assert idn not in html and phone not in html and name not in html
        shot(page, "escort-page")

        # A report that does not fit the stage is refused in one sentence, and not sent again.
        page.locator("#step-depart summary").click()
        page.locator("#step-depart button").click()
        refusal = page.locator("#result.bad")
        refusal.wait_for()
        said = refusal.inner_text()
        assert "未被接受" in said and "no screening check-in" in said
        assert page.locator("#queue").get_attribute("data-waiting") == "0"
        assert _checkins("depart") == []
        browser.watch.console_errors[:] = [  # the browser logs the 409 it was answered
            m for m in browser.watch.console_errors if "status of 409" not in m
        ]
        page.reload()

        # Muster: seat 4 did not show.
        page.locator("#step-muster input[name=absent][value='4']").check()
        with page.expect_navigation():
            page.locator("#step-muster button").click()
        assert "已记录" in page.locator("#result").inner_text()
        wait_stage(code, Stage.VERIFIED, flow, log)

        # Screening: temperatures typed fast ("365" is 36.5), the fever rule as you type.
        page.reload()
        rows = page.locator("#step-screening tr[data-seat]")
        assert rows.count() == 3  # the absent seat is gone from the list
        nat_time = (datetime.now(SHANGHAI) - timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")
        for seat, temp in (("1", "365"), ("2", "37.8"), ("3", "36.6")):
            row = page.locator(f"#step-screening tr[data-seat='{seat}']")
            row.locator("input[name=temperature]").fill(temp)
            row.locator("select[name=nat_result]").select_option("negative")
            row.locator("select[name=health_code]").select_option("green")
        fever = page.locator("#step-screening tr[data-seat='2']")
        assert "fever" in (fever.get_attribute("class") or "")
        assert "复测" in fever.locator(".verdict").inner_text()
        page.locator("#step-screening input[name=nat_time]").fill(nat_time)
        shot(page, "escort-screening-fever")
        fever.locator("input[name=retemperature]").fill("36.9")
        assert "fever" not in (fever.get_attribute("class") or "")
        with page.expect_navigation():
            page.locator("#step-screening button:not([type=button])").last.click()
        wait_stage(code, Stage.SCREENED, flow, log)

        # Departure, nobody left; then the entry applications, ticked off.
        with page.expect_navigation():
            page.locator("#step-depart button").click()
        wait_stage(code, Stage.IN_TRANSIT, flow, log)
        page.reload()
        entry = page.locator("#step-entry")
        assert entry.locator(".due").is_visible()
        for box in entry.locator("input[name=seats]").all():
            box.check()
        with page.expect_navigation():
            entry.locator("button").click()
        assert len(_checkins("entry")) == 1

        # Share my position: the browser's geolocation, stored as a position check-in.
        page.locator("#share-position").click()
        deadline = time.monotonic() + 60
        while not _checkins("position"):
            assert time.monotonic() < deadline, page.locator("#result").inner_text()
            page.wait_for_timeout(200)  # lets Playwright serve the page's requests meanwhile
        assert abs(_checkins("position")[0].payload["lat"] - 34.62) < 1e-6

        # No signal on the train: the arrival is kept on the phone, then sent once.
        ctx.set_offline(True)
        page.locator("#step-arrive button").click()
        queue = page.locator("#queue")
        assert queue.get_attribute("data-waiting") == "1"
        assert "待发送：1" in queue.inner_text() and "当前离线" in queue.inner_text()
        shot(page, "escort-offline-queue")
        time.sleep(1.0)
        assert _checkins("arrive") == []  # nothing left the phone
        with page.expect_navigation():
            ctx.set_offline(False)  # the page sends its queue when the network returns
        stored = _checkins("arrive")
        assert len(stored) == 1 and stored[0].client_id and stored[0].source == "web"
        assert page.locator("#queue").get_attribute("data-waiting") == "0"
        wait_stage(code, Stage.ARRIVED, flow, log)

        # Spot checks of the rule's sample.
        page.reload()
        for row in page.locator("#step-arrival_screening tr[data-seat]").all():
            row.locator("input[name=temperature]").fill("36.4")
            row.locator("select[name=health_code]").select_option("green")
        with page.expect_navigation():
            page.locator("#step-arrival_screening button:not([type=button])").last.click()
        wait_stage(code, Stage.ARRIVAL_SCREENED, flow, log)

        # Handoff per enterprise: seats pre-listed, the receiver's name, a drawn signature.
        page.reload()
        forms = page.locator("form.handoff")
        assert forms.count() == 2
        first = forms.first
        first.locator("input[name=received_by]").fill("王经理")
        box = first.locator("canvas").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + 20, box["y"] + 90)
        page.mouse.down()
        for dx, dy in ((60, -40), (120, 20), (180, -30), (260, 10)):
            page.mouse.move(box["x"] + dx, box["y"] + 70 + dy, steps=4)
        page.mouse.up()
        shot(page, "escort-handoff")
        with page.expect_navigation():
            first.locator("button:not([type=button])").last.click()
        last = page.locator("form.handoff")
        assert last.count() == 1
        last.locator("input[name=received_by]").fill("李主管")
        with page.expect_navigation():
            last.locator("button:not([type=button])").last.click()
        wait_stage(code, Stage.CLOSED, flow, log)
        page.reload()
        shot(page, "escort-closed")
        assert browser.watch.problems() == []
    finally:
        ctx.close()
        flow.terminate()
        flow.wait(timeout=60)

    handoffs = _checkins("handoff")
    assert len(handoffs) == 2
    assert handoffs[0].payload["signature"].startswith("data:image/png;base64,")
    assert handoffs[1].payload.get("signature") is None
    assert len(_checkins("arrive")) == 1
    with session_scope() as s:
        actors = set(s.execute(select(AuditEvent.actor).where(
            AuditEvent.action == "checkin.add")).scalars())  # type: ignore[arg-type]  # fmt: skip
        c = get_convoy(s, code)
        states = {p.seat: p.custody for p in passengers(s, c)}
    assert actors == {"escort NB3001 link"}
    assert states == {1: "handed_off", 2: "handed_off", 3: "handed_off", 4: "withdrawn"}
