"""The enterprise's own page (FastAPI's TestClient on the real app and database): its liaison
officer, raising a request with the CSRF pattern of the registration form, uploading a staff
list and downloading the masked result — each link seeing only its own requests and results —
and 4xx (never 5xx) for whatever arrives."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from config import Settings
from flows.api.registration import create_app
from models.db import session_scope
from models.intake.registration import enterprise_link
from tests.conftest import ENTERPRISES
from tests.models.desk.helpers import setup_desk

ID_A = "110101199003074514"
STAFF = f"姓名,身份证号\n张三,{ID_A}\n李四,12345\n".encode()


@pytest.fixture
def world(make_convoy: Callable[..., str], settings: Settings) -> dict[str, Any]:
    w = setup_desk(make_convoy, n=0)
    path = lambda u: "/" + u.split("/", 3)[3]  # noqa: E731
    with session_scope() as s:
        w["own"] = path(enterprise_link(s, ENTERPRISES[0])[0])
        w["other"] = path(enterprise_link(s, ENTERPRISES[1])[0])
    return w


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"registration_per_link_per_minute": 10**6}))
    with TestClient(app, client=("10.0.0.9", 5000)) as c:
        yield c


def _csrf(c: TestClient, url: str) -> str:
    page = c.get(url)
    assert page.status_code == 200, page.text
    m = re.search(r"name='csrf' value='([^']+)'", page.text)
    assert m is not None
    return m[1]


def test_the_page_raises_requests_and_checks_staff_lists_of_its_own(
    client: TestClient, world: dict[str, Any]
) -> None:
    own, other = world["own"], world["other"]
    page = client.get(own)
    assert "赵警官（NB3001" in page.text and "139****1111" in page.text  # officer, phone masked
    assert "13900001111" not in page.text
    raised = client.post(f"{own}/requests", data={
        "kind": "staff_return", "text": "请协助 30 名员工返岗", "contact": "王经理",
        "phone": "13812345678", "csrf": _csrf(client, own)})  # fmt: skip
    assert raised.status_code == 200 and "FW-" in raised.text, raised.text
    assert "请协助 30 名员工返岗" in raised.text and "13812345678" not in raised.text
    bad = client.post(f"{own}/requests", data={"kind": "complaint", "text": "x",
                                               "csrf": _csrf(client, own)})  # fmt: skip
    assert bad.status_code == 422 and "not a kind of request" in bad.text
    sent = client.post(
        f"{own}/staff", data={"csrf": _csrf(client, own)},
        files={"file": ("名单.csv", STAFF, "text/csv")},
    )  # fmt: skip
    assert sent.status_code == 200 and "2 人 listed, 1 通过 cleared" in sent.text, sent.text
    link = re.search(r"href='(/e/[^']+/checks/(\d+)\.csv)'", sent.text)
    assert link is not None
    sheet = client.get(link[1])
    assert sheet.status_code == 200 and "attachment" in sheet.headers["content-disposition"]
    text = sheet.content.decode("utf-8-sig")
    assert "1101**********4514" in text and ID_A not in text and "核查通过" in text
    book = client.get(link[1].replace(".csv", ".xlsx"))
    rows = list(load_workbook(io.BytesIO(book.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "行号" and len(rows) == 3
    # The other enterprise's link sees neither the request nor the check.
    theirs = client.get(other)
    assert (
        theirs.status_code == 200 and "请协助" not in theirs.text and "名单.csv" not in theirs.text
    )
    assert client.get(link[1].replace(own, other)).status_code == 404
    assert client.get(link[1].replace(own, own[:-4] + "AAAA")).status_code == 403


def test_posts_without_the_page_are_refused_with_a_reason(
    client: TestClient, world: dict[str, Any]
) -> None:
    own = world["own"]
    assert client.post(f"{own}/requests", data={"kind": "other", "text": "x"}).status_code == 403
    token = _csrf(client, own)
    foreign = client.post(f"{own}/requests", data={"kind": "other", "text": "x", "csrf": token},
                          headers={"Origin": "https://evil.example"})  # fmt: skip
    assert foreign.status_code == 403
    as_json = client.post(f"{own}/requests", json={"kind": "other"})
    assert as_json.status_code == 415
    assert client.post(f"{own}/staff", data={"csrf": token}).status_code == 415
    wrong = client.post(f"{own}/staff", data={"csrf": token},
                        files={"file": ("list.pdf", b"%PDF", "application/pdf")})  # fmt: skip
    assert wrong.status_code == 422 and "not a CSV or XLSX" in wrong.text
    junk = {"file": ("list.xlsx", b"not a workbook", "application/zip")}
    broken = client.post(f"{own}/staff", data={"csrf": token}, files=junk)
    assert broken.status_code == 422
    nobody = client.post(f"{own}/staff", data={"csrf": token},
                         files={"file": ("x.csv", b"a,b\n1,2\n", "text/csv")})  # fmt: skip
    assert nobody.status_code == 422 and "staff list" in nobody.text
    assert client.get(f"{own}/checks/1.pdf").status_code == 404
    assert client.get(f"{own}/checks/999.csv").status_code == 404
