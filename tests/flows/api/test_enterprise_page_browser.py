"""The enterprise page in headless Chromium against a real uvicorn process: the link's holder
raises a request with the page's form, uploads a staff list and downloads the masked result;
no console error, no request leaves this machine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from config import Settings
from models.db import session_scope
from models.intake.registration import enterprise_link
from tests.browser import Browser, launch, screenshot
from tests.conftest import ENTERPRISES
from tests.flows.api.test_registration import server  # noqa: F401  (the uvicorn fixture)
from tests.models.desk.helpers import setup_desk

ID_A = "110101199003074514"


@pytest.fixture
def browser() -> Iterator[Browser]:
    with launch() as b:
        yield b


def test_the_page_in_a_browser(
    make_convoy: Callable[..., str],
    settings: Settings,
    server: str,  # noqa: F811
    browser: Browser,
    tmp_path: Path,
) -> None:
    setup_desk(make_convoy, n=0)
    with session_scope() as s:
        url, _ = enterprise_link(s, ENTERPRISES[0], base_url=server)
    staff = tmp_path / "返岗员工名单.csv"
    staff.write_text(f"姓名,身份证号\n张三,{ID_A}\n李四,123\n", encoding="utf-8")
    ctx = browser.context(accept_downloads=True)
    page = ctx.new_page()
    page.goto(url)
    assert "赵警官（NB3001" in page.content()
    page.select_option("select[name=kind]", "vehicle_pass")
    page.fill("textarea[name=text]", "员工大巴进厂通行证")
    page.fill("input[name=contact]", "王经理")
    page.fill("input[name=phone]", "13812345678")
    page.click("text=提交 Submit")
    assert "已提交 / Raised FW-" in page.content(), page.content()
    assert "员工大巴进厂通行证" in page.content() and "13812345678" not in page.content()
    page.set_input_files("input[name=file]", str(staff))
    page.click("text=上传核查 Upload and check")
    assert "2 人 listed, 1 通过 cleared" in page.content(), page.content()
    screenshot(page, "enterprise-page")
    with page.expect_download() as info:
        page.click("a[href$='.csv']")
    sheet = Path(info.value.path()).read_text(encoding="utf-8-sig")
    assert "1101**********4514" in sheet and ID_A not in sheet
    assert browser.watch.problems() == []
    ctx.close()
