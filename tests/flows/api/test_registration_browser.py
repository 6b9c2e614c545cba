"""The registration form on a phone (390×844, system Chromium, every non-local request blocked),
against a real uvicorn process: proper inputs (selects, a date-time picker, phone keyboards and
patterns, required marks), a privacy notice, and a confirmation page showing what was registered,
masked. Screenshots go to docs/screenshots/."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest

from config import Settings
from models.db import session_scope
from models.intake.identity import synthetic_id
from models.intake.registration import enterprise_code
from tests.browser import PHONE, Browser, launch, screenshot
from tests.conftest import ENTERPRISES
from tests.flows.api import test_registration

server = test_registration.server  # a real uvicorn process serving the registration app


@pytest.fixture
def browser() -> Iterator[Browser]:
    with launch() as b:
        yield b


def test_the_registration_form_on_a_phone(
    make_convoy: Callable[..., str], settings: Settings, server: str, browser: Browser
) -> None:
    make_convoy("BUS-RB", n=0)
    with session_scope() as s:
        url = enterprise_code(s, ENTERPRISES[0], base_url=server).url
    idn, phone = synthetic_id(random.Random(7), "610526"), "13912345678"
    ctx = browser.context(PHONE, locale="zh-CN", has_touch=True)
    page = ctx.new_page()
    page.goto(url)
    assert page.locator("meta[name=viewport]").count() == 1
    assert page.locator("select#f-health_code option").count() == 4
    assert page.locator("select#f-nat_result option").count() == 3
    assert page.locator("#f-nat_time").get_attribute("type") == "datetime-local"
    assert page.locator("#f-phone").get_attribute("inputmode") == "numeric"
    required = {
        el.get_attribute("name") for el in page.locator("form [required]").all()
    }  # the marked fields
    assert required == {"name", "id_number", "phone", "health_code"}
    assert page.locator(".req").count() >= 4
    assert "个人信息说明" in page.locator(".privacy").inner_text()
    screenshot(page, "registration-form")

    # The browser itself stops a malformed phone number before it is sent.
    page.fill("#f-name", "王伟")
    page.fill("#f-id_number", idn)
    page.fill("#f-phone", "12345")
    assert page.locator("#f-phone").evaluate("e => e.validity.patternMismatch")
    page.fill("#f-phone", phone)
    page.fill("#f-origin", "陕西省渭南市蒲城县")
    page.select_option("#f-health_code", "green")
    page.select_option("#f-nat_result", "negative")
    page.fill("#f-nat_time", "2020-02-19T09:30")
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    text = page.locator("main").inner_text()
    assert "登记成功" in page.title(), text
    assert idn not in page.content() and phone not in page.content()
    assert f"{idn[:4]}**********{idn[-4:]}" in text and "139****5678" in text
    assert "王*" in text and "绿码" in text and "阴性" in text and "2020-02-19 09:30" in text
    screenshot(page, "registration-confirmation")
    ctx.close()
    assert browser.watch.problems() == []
