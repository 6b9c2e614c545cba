"""The registration form against careless clients and attackers (FastAPI's TestClient on the
real app and database): CSRF, rate limits per address and per link, the body and field limits,
security headers, versions kept in history and shown to the enterprise, masked re-display, the
audit of every registration, and 4xx (never 5xx) for whatever arrives."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from config import Settings
from flows.api.hardening import SECURITY_HEADERS, RateLimiter
from flows.api.registration import create_app
from models.access.actors import acting_as, operator
from models.access.audit import audit_log
from models.db import session_scope
from models.intake.identity import synthetic_id
from models.intake.registration import enterprise_code, enterprise_link
from tests.conftest import ENTERPRISES

PHONE = "13812345678"


@pytest.fixture
def links(make_convoy: Callable[..., str], settings: Settings) -> dict[str, str]:
    make_convoy("BUS-F1", n=0)
    with session_scope() as s:
        form = enterprise_code(s, ENTERPRISES[0]).url
        other = enterprise_code(s, ENTERPRISES[1]).url
        own, _ = enterprise_link(s, ENTERPRISES[0])
    path = lambda u: "/" + u.split("/", 3)[3]  # noqa: E731
    return {"form": path(form), "other": path(other), "own": path(own)}


def client_for(settings: Settings, address: str = "10.0.0.1", **limits: int) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=limits)), client=(address, 5000))


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A client the rate limits do not get in the way of (they have their own test)."""
    limits = {
        "registration_per_address_per_minute": 10**6,
        "registration_per_link_per_minute": 10**6,
    }
    with client_for(settings, **limits) as c:
        yield c


def csrf(c: TestClient, url: str) -> str:
    page = c.get(url)
    assert page.status_code == 200, page.text
    m = re.search(r"name='csrf' value='([^']+)'", page.text)
    assert m
    return m[1]


def person(seed: int = 1, **extra: str) -> dict[str, str]:
    return {"name": "王伟", "id_number": synthetic_id(random.Random(seed), "610526"),
            "phone": PHONE, "health_code": "绿", **extra}  # fmt: skip


def test_csrf_token_cookie_and_origin(client: TestClient, links: dict[str, str]) -> None:
    url = links["form"]
    assert client.post(url, data=person()).status_code == 403  # no token
    token = csrf(client, url)
    assert client.post(url, data={**person(), "csrf": token + "0"}).status_code == 403
    assert client.post(links["other"], data={**person(), "csrf": token}).status_code == 403
    foreign = client.post(
        url, data={**person(), "csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403 and "another site" in foreign.text
    client.cookies.clear()  # the token alone, without this browser's cookie, is refused
    assert client.post(url, data={**person(), "csrf": token}).status_code == 403
    token = csrf(client, url)
    same_site = client.post(
        url, data={**person(), "csrf": token}, headers={"Origin": "http://testserver"}
    )
    assert same_site.status_code == 200 and "登记成功" in same_site.text


def test_rate_limits_per_address_and_per_link(settings: Settings, links: dict[str, str]) -> None:
    url = links["form"]
    with client_for(settings, registration_per_address_per_minute=3) as c:
        token = csrf(c, url)
        codes = [c.post(url, data={**person(i), "csrf": token}).status_code for i in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        limited = c.post(url, data={**person(9), "csrf": token})
        assert int(limited.headers["retry-after"]) >= 1 and "Too many" in limited.text
    app = create_app(settings.model_copy(update={"registration_per_link_per_minute": 2}))
    codes = []
    for i in range(4):  # four addresses, one link
        with TestClient(app, client=(f"10.0.1.{i}", 5000)) as c:
            codes.append(c.post(url, data={**person(20 + i), "csrf": csrf(c, url)}).status_code)
    assert codes == [200, 200, 429, 429]
    limiter = RateLimiter(2, window=60)
    assert [limiter.hit("k", now=t) for t in (0, 1, 2)] == [None, None, 58]
    assert limiter.hit("k", now=61) is None  # the window slides


def test_body_and_field_limits(client: TestClient, links: dict[str, str]) -> None:
    url = links["form"]
    token = csrf(client, url)
    huge = client.post(
        url, data={**person(), "csrf": token, "name": "张" * 1_200_000}
    )  # ~10 MB encoded
    assert huge.status_code == 413
    chunks = (b"name=" + b"a" * 4096 for _ in range(10))  # no Content-Length: streamed
    streamed = client.post(
        url, content=chunks, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert streamed.status_code == 413
    long = client.post(url, data={**person(), "csrf": token, "name": "张" * 51})
    assert long.status_code == 422 and "longer than 50 characters" in long.text
    assert "张" * 51 not in long.text
    assert client.post(url, json={"name": "x"}).status_code == 415
    many = "&".join(f"f{i}=1" for i in range(40))
    assert (
        client.post(
            url, content=many, headers={"Content-Type": "application/x-www-form-urlencoded"}
        ).status_code
        == 400
    )
    bad_utf8 = client.post(
        url, content=b"name=\xff\xfe", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert bad_utf8.status_code == 400


def test_security_headers_on_every_response(client: TestClient, links: dict[str, str]) -> None:
    for response in (
        client.get(links["form"]),
        client.get(links["form"][:-4] + "AAAA"),
        client.get("/nothing-here"),
        client.post(links["form"], data={}),
    ):
        for key, value in SECURITY_HEADERS.items():
            assert response.headers[key] == value, (response.status_code, key)
    cookie = client.get(links["form"]).headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_versions_are_kept_and_shown_to_the_enterprise(
    client: TestClient, links: dict[str, str], settings: Settings
) -> None:
    url = links["form"]
    first = person(7)
    assert "登记成功" in client.post(url, data={**first, "csrf": csrf(client, url)}).text
    second = {**first, "name": "王伟强", "phone": "13912340000"}
    again = client.post(url, data={**second, "csrf": csrf(client, url)})
    assert again.status_code == 200 and "version 2" in again.text
    page = client.get(links["own"])
    assert page.status_code == 200 and "王伟强" in page.text
    assert "version 1" in page.text and "version 2" in page.text
    assert "138****5678" in page.text and "139****0000" in page.text  # both phones, masked
    assert PHONE not in page.text and "13912340000" not in page.text
    assert first["id_number"] not in page.text
    assert client.get(url.replace("/r/", "/e/")).status_code == 403  # a form link is not it
    assert client.get(links["own"].replace("/e/", "/r/")).status_code == 403
    with acting_as(operator("root"), "cli"), session_scope() as s:
        rows = [r for r in audit_log(s) if r["action"].startswith("registration")]
    assert [r["action"] for r in rows] == ["registration.add", "registration.change"]
    assert {(r["actor"], r["via"], r["role"]) for r in rows} == {
        (f"{ENTERPRISES[0]} link", "api", "enterprise")
    }
    assert rows[1]["before"]["name"] == "王*" and rows[1]["after"]["name"] == "王**"
    assert PHONE not in str(rows)


@hsettings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    fields=st.dictionaries(
        st.sampled_from(
            [
                "name",
                "id_number",
                "phone",
                "origin",
                "health_code",
                "nat_result",
                "nat_time",
                "csrf",
                "x",
            ]
        ),
        st.text(max_size=80),
        max_size=9,
    ),
    raw=st.binary(max_size=300),
)
def test_nothing_sent_makes_a_server_error(
    client: TestClient, links: dict[str, str], fields: dict[str, str], raw: bytes
) -> None:
    url = links["form"]
    assert client.post(url, data={**person(), "csrf": "²" + csrf(client, url)}).status_code == 403
    form = {**fields}
    if "csrf" not in form:
        form["csrf"] = csrf(client, url)
    assert client.post(url, data=form).status_code < 500
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.post(url, content=raw, headers=headers).status_code < 500
    assert client.post(url + raw.hex()[:20], content=raw, headers=headers).status_code < 500
