"""The console in a real browser (the system Chromium, every non-local request blocked) against
a real uvicorn: each page loads with no console error and no external request, signing in and
out through the form, a coordinator acknowledges an alert and sees the board update by itself,
a manager's pages hold no write, and screenshots of the main pages for the README."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import DESKTOP, Browser, launch, screenshot
from tests.flows.api.console.site import BUS, Site, site


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("console-pages")) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as b:
        yield b


def signed_in(browser: Browser, op: Site, role: str, start: str = "/console/") -> Any:
    """A page of a fresh context, signed in through the form as ``role``."""
    ctx = browser.context(viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = ctx.new_page()
    page.goto(op.base + start)
    assert "/console/login" in page.url
    page.fill("#token", op.tokens[role])
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def clean(browser: Browser) -> None:
    problems = browser.watch.problems()
    browser.watch.console_errors.clear()
    browser.watch.external_requests.clear()
    browser.watch.page_errors.clear()
    assert not problems, problems


def test_sign_in_page_and_a_wrong_token(browser: Browser, op: Site) -> None:
    ctx = browser.context(viewport=DESKTOP)
    page = ctx.new_page()
    page.goto(op.base + "/console/")
    assert page.locator("h1").inner_text() == "登录"
    screenshot(page, "console-sign-in")
    page.fill("#token", "cvo_wrong")
    page.click("button[type=submit]")
    assert "unknown" in page.locator(".error").inner_text()
    ctx.close()
    # A refused sign-in answers 401: the browser logs that one failed load, nothing else.
    assert all("401" in m for m in browser.watch.console_errors), browser.watch.console_errors
    browser.watch.console_errors.clear()
    clean(browser)


def test_coordinator_pages_load_clean_and_an_acknowledged_alert_updates_the_board(
    browser: Browser, op: Site
) -> None:
    board = signed_in(browser, op, "coordinator")
    assert board.url.endswith("/console/")
    rows = board.locator("#convoys tbody tr")
    assert rows.count() == 3
    assert board.locator("tr[data-convoy=TRAIN-XY-01] .tag.bad").count() == 1
    screenshot(board, "console-board")

    # The filter narrows the table without a reload.
    from playwright.sync_api import expect

    board.fill("#q", "信阳")
    expect(rows).to_have_count(1)
    board.fill("#q", "")
    expect(rows).to_have_count(3)

    inbox = board.context.new_page()
    inbox.goto(op.base + "/console/alerts")
    screenshot(inbox, "console-alerts")
    alert = inbox.locator("tr", has=inbox.locator("a", has_text="TRAIN-XY-01")).first
    alert.locator("button[data-ack]").click()
    inbox.wait_for_load_state("networkidle")
    assert "告警已确认" in inbox.locator(".notice").inner_text()
    # The board, left open, refreshes itself: the train's alert is now being handled.
    train = board.locator("tr[data-convoy=TRAIN-XY-01]")
    expect(train.locator(".tag.warn")).to_have_count(1, timeout=20_000)
    assert train.locator(".tag.bad").count() == 0

    convoy = board.context.new_page()
    convoy.goto(op.base + f"/console/convoys/{BUS}")
    convoy.frame_locator("iframe.map").locator(".leaflet-container").wait_for(timeout=60_000)
    assert convoy.locator("#timeline li").count() >= 4
    assert convoy.locator("#roster tbody tr").count() == 45
    assert re.fullmatch(r"\d{4}\*{10}[\dX]{4}", convoy.locator("#roster td").nth(2).inner_text())
    screenshot(convoy, "console-convoy")

    intake = board.context.new_page()
    intake.goto(op.base + "/console/intake")
    intake.set_input_files(
        "#manifest-file",
        files=[
            {
                "name": "补充名单.csv",
                "mimeType": "text/csv",
                "buffer": "序号,姓名,身份证号,手机号,用工企业\n"
                "401,测试丁,41150219900101123X,13800001111,宁波鄞州甬丰模具有限公司\n".encode(),
            }
        ],
    )
    intake.select_option("#convoy", "TRAIN-XY-01")
    intake.click("#manifest-form button[type=submit]")
    intake.locator("#manifest-result").wait_for()
    assert "id_invalid" in intake.locator("#errors").inner_text()
    screenshot(intake, "console-intake")

    board.locator("#sign-out").click()
    board.wait_for_url(re.compile(r".*/console/login\?why=signedout"))
    assert "已退出" in board.locator(".notice").inner_text()
    board.context.close()
    clean(browser)


def test_the_managers_view_is_read_only_and_clean(browser: Browser, op: Site) -> None:
    page = signed_in(browser, op, "manager")
    assert page.url.endswith("/console/overview")
    assert int(page.locator("[data-figure=trips]").inner_text()) == 3
    page.frame_locator("iframe.map").locator(".leaflet-container").wait_for(timeout=60_000)
    screenshot(page, "managers-view")
    for path in ("/console/overview", "/console/alerts?all=1", f"/console/convoys/{BUS}"):
        page.goto(op.base + path)
        posts = page.locator("form[method=post]")
        assert posts.count() == 1 and posts.get_attribute("action") == "/console/logout", path
        assert page.locator("button[data-ack], button[data-resolve], #run").count() == 0
    nav = page.locator("header nav").inner_text()
    assert "名单导入" not in nav and "车次总览" not in nav
    page.context.close()
    clean(browser)


def test_the_permit_officers_pages_plan_a_route_and_show_its_map(
    browser: Browser, op: Site
) -> None:
    page = signed_in(browser, op, "permit_officer")
    assert page.url.endswith("/console/permits")
    assert page.locator("#permits tbody tr").count() == 3  # the site's two, the demo's fleet
    screenshot(page, "console-permits")
    surveyed = page.locator("tr[data-status=surveyed]")
    surveyed.locator("input[name=vias]").fill("宁波站; 29.93,121.85")
    surveyed.locator("button[data-step=route]").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("tr[data-status=route_planned]").count() == 1
    page.locator("tr[data-status=route_planned] a").click()
    page.frame_locator("iframe.map").locator(".leaflet-container").wait_for(timeout=60_000)
    assert "宁波站" in page.locator("main").inner_text()
    screenshot(page, "console-permit")
    page.context.close()
    clean(browser)
