"""The escorts' phone page over HTTP, against a real uvicorn process serving the tracker app:
links refused with 403/410, reports that do not fit refused with a sentence (4xx, never 500),
one stored row per phone-made id even when sent twice at once, holds with reason and place,
every write audited as the escort, and no unmasked ID or phone in the page."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from typer.testing import CliRunner

from config import Settings, reset_settings
from flows.cli.main import app
from models.access.audit import AuditEvent
from models.access.escort_links import escort_token
from models.convoy.store import assign_escort, get_convoy, passengers, upsert_escort
from models.convoy.tables import CheckIn
from models.db import session_scope, utcnow
from tests.flows.api import test_tracker

server = test_tracker.server  # the same real uvicorn subprocess fixture


def _link(code: str, badge: str = "NB7001") -> str:
    with session_scope() as s:
        e = upsert_escort(s, badge, name="钱警官", phone="13905749999")
        assign_escort(s, get_convoy(s, code), e)
        s.flush()
        token, _ = escort_token(e)
    return token


def _post(base: str, token: str, path: str, body: Any, **kw: Any) -> httpx.Response:
    return httpx.post(f"{base}/field/{token}/{path}", json=body, timeout=30, **kw)


def test_the_page_and_its_reports_over_http(
    make_convoy: Callable[..., str], settings: Settings, server: str
) -> None:
    code = make_convoy("BUS-F1", n=3)
    other = make_convoy("BUS-F2", n=1, seed=2)
    token = _link(code)
    page = httpx.get(f"{server}/field/{token}", timeout=30)
    assert page.status_code == 200 and code in page.text and "集结点名" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    with session_scope() as s:
        people = passengers(s, get_convoy(s, code))
    for p in people:  # masked: no ID number, phone or full name on the escort's phone
        assert p.id_number not in page.text and p.phone not in page.text
        assert p.id_number[-4:] in page.text and p.name not in page.text
    assert "13905749999" not in page.text and "钱警官" not in page.text
    assert other not in page.text  # not their convoy
    assert re.search(r"src=\"/field/static/field.js\"", page.text)
    assert httpx.get(f"{server}/field/static/field.js", timeout=30).status_code == 200
    assert httpx.get(f"{server}/field/sw.js", timeout=30).status_code == 200

    # Links: tampered 403, expired 410, another convoy refused.
    assert httpx.get(f"{server}/field/{token[:-3]}abc", timeout=30).status_code == 403
    with session_scope() as s:
        e = upsert_escort(s, "NB7001", name="钱警官")
        old, _ = escort_token(e, days=1, now=utcnow() - timedelta(days=3))
    gone = httpx.get(f"{server}/field/{old}", timeout=30)
    assert gone.status_code == 410 and "过期" in gone.text
    foreign = _post(server, token, "checkins", {"convoy": other, "kind": "muster"})
    assert foreign.status_code == 403 and other in foreign.json()["error"]

    # Reports that do not fit: a sentence and a 4xx, nothing stored.
    early = _post(server, token, "checkins", {"convoy": code, "kind": "depart", "payload": {}})
    assert early.status_code == 409 and "screening" in early.json()["error"]
    bad = _post(server, token, "checkins", {"convoy": code, "kind": "muster",
                                             "payload": {"absent": [99]}})  # fmt: skip
    assert bad.status_code == 422 and "seat(s) 99" in bad.json()["error"]
    typo = _post(server, token, "checkins", {"convoy": code, "kind": "muster",
                                              "payload": {"absnt": [1]}})  # fmt: skip
    assert typo.status_code == 422 and "absnt" in typo.json()["error"]
    assert httpx.post(f"{server}/field/{token}/checkins", data={"a": "b"}).status_code == 415
    huge = _post(server, token, "checkins", {"convoy": code, "kind": "handoff",
                                              "payload": {"signature": "x" * 400_000}})  # fmt: skip
    assert huge.status_code == 413
    unsigned = {"enterprise": "x", "received_by": "y", "signature": "javascript:1"}
    forged = _post(server, token, "checkins", {"convoy": code, "kind": "handoff",
                                               "payload": unsigned})  # fmt: skip
    assert forged.status_code == 422 and "signature" in forged.json()["error"]
    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(CheckIn)).scalar_one() == 0

    # The same report sent twice at once (an offline queue and a retry): stored once.
    phone_id = "0b6f7c1e-8a51-4b8e-9e57-3f1d2c4b5a69"
    body = {"convoy": code, "kind": "muster", "payload": {"absent": [3]},
            "at": utcnow().isoformat(), "client_id": phone_id}  # fmt: skip
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: _post(server, token, "checkins", body), range(4)))
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 201], [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    with session_scope() as s:
        rows = list(s.execute(select(CheckIn)).scalars())
        assert [(r.kind, r.client_id, r.source) for r in rows] == [
            ("muster", body["client_id"], "web")
        ]

    # A hold, with reason and place; again: already held, 200.
    hold = {"convoy": code, "seat": 2, "reason": "发热送医", "location": "蒲城县医院"}
    first = _post(server, token, "holds", hold)
    assert first.status_code == 201 and first.json()["custody"] == "held"
    assert _post(server, token, "holds", hold).status_code == 200
    assert _post(server, token, "holds", {**hold, "reason": ""}).status_code == 422
    assert _post(server, token, "holds", {**hold, "seat": 42}).status_code == 409
    with session_scope() as s:
        actions = s.execute(
            select(AuditEvent.actor, AuditEvent.action, AuditEvent.via).where(
                AuditEvent.actor == "escort NB7001 link"  # type: ignore[arg-type]
            )
        ).all()
    assert {a for _, a, _ in actions} == {"checkin.add", "custody.held"}
    assert {v for _, _, v in actions} == {"api"}


def test_the_cli_prints_an_escorts_link(
    make_convoy: Callable[..., str], settings: Settings, monkeypatch: Any
) -> None:
    code = make_convoy("BUS-F3", n=1)
    _link(code, "NB7002")
    monkeypatch.setenv("CONVOY_PUBLIC_URL", "https://convoy.example.cn")
    reset_settings()
    out = CliRunner().invoke(app, ["escort", "link", "NB7002", "--days", "3"])
    assert out.exit_code == 0, out.output
    assert "https://convoy.example.cn/field/" in out.output and "NB7002" in out.output
    missing = CliRunner().invoke(app, ["escort", "link", "NB0000"])
    assert missing.exit_code == 1 and "no escort" in missing.output


def test_the_device_api_takes_a_client_id_too(
    make_convoy: Callable[..., str], settings: Settings, server: str
) -> None:
    from models.tracking.devices import bind_device

    code = make_convoy("BUS-F4", n=2)
    _link(code, "NB7003")
    with session_scope() as s:
        _, device_token = bind_device(s, "tablet-f4", "NB7003", code)
    body = {"kind": "muster", "payload": {}, "client_id": "tablet-f4-000001"}
    headers = {"Authorization": f"Bearer {device_token}"}
    url = f"{server}/api/checkins"
    with ThreadPoolExecutor(3) as pool:  # sent three times at once
        sent = list(
            pool.map(lambda _: httpx.post(url, json=body, headers=headers, timeout=30), range(3))
        )
    assert sorted(r.status_code for r in sent) == [200, 200, 201], [r.text for r in sent]
    assert len({r.json()["id"] for r in sent}) == 1
    bad = httpx.post(f"{server}/api/checkins", json={**body, "client_id": "x y"},
                     headers=headers, timeout=30)  # fmt: skip
    assert bad.status_code == 422 and "client_id" in bad.json()["error"]
