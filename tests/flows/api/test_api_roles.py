"""The role matrix over HTTP: each role's token (and a device's) against each endpoint, allowed
or refused (403; no token 401), and every write through the API audited with its actor."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import col

from config import Settings
from flows.api import files
from flows.api.files import signed_file_url
from flows.api.tracker import create_app
from models.access.audit import AuditEvent
from models.convoy.tables import CheckIn
from models.db import session_scope
from tests.flows.api.people import DEVICE_ID, make_people

CALLERS = ["admin", "coordinator", "manager", "permit_officer", "escort", "escort_other",
           "enterprise", "device"]  # fmt: skip

# endpoint -> the callers allowed (every other caller gets 403, no token 401)
MATRIX: dict[str, set[str]] = {
    "GET /api/convoy": {"coordinator", "manager", "escort", "device"},
    "GET /api/tasks": {"coordinator", "escort", "device"},
    "POST /api/checkins": {"coordinator", "escort", "device"},
    "GET /reports/campaign": {"coordinator", "manager"},
    "GET /reports/convoys/{code}": {"coordinator", "manager"},
    "GET /files/maps/{code}.html": {"coordinator", "manager", "permit_officer"},
    "GET /osmand/{token}": {"device"},
    "POST /osmand": {"device"},
}


def _call(
    client: TestClient, endpoint: str, token: str, code: str, at: datetime, n: int
) -> httpx.Response:
    """One request to ``endpoint`` with ``token``; writes differ per caller (``n``)."""
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    fix = {"id": DEVICE_ID, "lat": 31.82 + n / 100, "lon": 117.23,
           "timestamp": int(at.timestamp())}  # fmt: skip
    position = {"kind": "position", "payload": {"lat": 30.0 + n / 100, "lon": 120.0},
                "at": at.isoformat()}  # fmt: skip
    method, path = endpoint.split(" ")
    path = path.replace("{code}", code).replace("{token}", token)
    if endpoint == "POST /api/checkins":
        return client.post(path, params={"convoy": code}, json=position, headers=auth)
    if endpoint == "GET /osmand/{token}":
        return client.get(path, params=fix)
    if endpoint == "POST /osmand":
        return client.post(path, data={**fix, "timestamp": fix["timestamp"] + 1}, headers=auth)
    params = {"convoy": code} if path.startswith("/api/") else {}
    return client.request(method, path, params=params, headers=auth)


def test_each_role_against_each_endpoint(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    people = make_people(make_convoy, "BUS-ROLE")
    code = people.code
    maps = settings.output_dir / "maps"
    maps.mkdir(parents=True, exist_ok=True)
    (maps / f"{code}.html").write_text("<!doctype html><title>map</title>", encoding="utf-8")
    tokens = {**people.tokens, "device": people.device}
    at = datetime.now(UTC) - timedelta(hours=1)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for n, caller in enumerate(CALLERS):
            token = tokens[caller]
            for endpoint in MATRIX:
                r = _call(client, endpoint, token, code, at + timedelta(minutes=n), n)
                if caller in MATRIX[endpoint]:
                    assert r.status_code in (200, 201), (caller, endpoint, r.text)
                else:
                    assert r.status_code == 403, (caller, endpoint, r.status_code, r.text)
                    message = r.json()["error"]
                    assert message[0].isupper() and message.endswith("."), message
        for endpoint in MATRIX:  # no token, or one nobody holds
            for token in ("", "not-a-token"):
                r = _call(client, endpoint, token, code, at, 99)
                assert r.status_code == 401, (endpoint, r.status_code)
        assert client.get("/health").status_code == 200
        assert client.get("/openapi.json").status_code == 200
        # A user may act only on a convoy they name (an escort with one convoy need not).
        coordinator = {"Authorization": f"Bearer {people.tokens['coordinator']}"}
        r = client.get("/api/convoy", headers=coordinator)
        assert r.status_code == 422 and "?convoy=CODE" in r.json()["error"]
        escort = {"Authorization": f"Bearer {people.tokens['escort']}"}
        assert client.get("/api/convoy", headers=escort).json()["code"] == code
        # The map keeps the maps' own content policy (scripts from here only).
        csp = client.get(f"/files/maps/{code}.html", headers=coordinator).headers
        assert "script-src 'self'" in csp["content-security-policy"]

    # Every check-in written through the API left one audit row naming its actor.
    with session_scope() as s:
        checkins = list(s.execute(select(CheckIn).order_by(col(CheckIn.id))).scalars())
        audit = list(
            s.execute(
                select(AuditEvent)
                .where(col(AuditEvent.action) == "checkin.add")
                .order_by(col(AuditEvent.id))
            ).scalars()
        )
    assert len(checkins) == 3 and {c.source for c in checkins} == {"http"}
    assert [(e.actor_kind, e.actor, e.role, e.via) for e in audit] == [
        ("user", "coord", "coordinator", "api"),
        ("user", "esc", "escort", "api"),
        ("device", DEVICE_ID, "escort", "api"),
    ]
    assert all(e.subject == f"checkin #{c.id}" for e, c in zip(audit, checkins, strict=True))


def test_signed_file_links_open_a_map_and_its_assets(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    people = make_people(make_convoy, "BUS-SIGN")
    maps = settings.output_dir / "maps"
    (maps / "assets").mkdir(parents=True)
    (maps / "BUS-SIGN.html").write_text("<script src='assets/a.js'></script>BUS-SIGN")
    (maps / "assets" / "a.js").write_text("var a = 1;")
    (settings.output_dir / "permits").mkdir()
    (settings.output_dir / "permits" / "p.html").write_text("permit")
    url = signed_file_url("maps/BUS-SIGN.html", settings)
    assert url.startswith("http://127.0.0.1:5055/files/maps/BUS-SIGN.html?sig=")
    path = url.removeprefix("http://127.0.0.1:5055")
    app = create_app(settings)
    with TestClient(app) as browser:
        assert browser.get("/files/maps/assets/a.js").status_code == 401  # no grant yet
        r = browser.get(path)
        assert r.status_code == 200 and "BUS-SIGN" in r.text
        assert "httponly" in r.headers["set-cookie"].lower()
        assert browser.get("/files/maps/assets/a.js").text == "var a = 1;"  # by the cookie
        sig = path.partition("sig=")[2]
        assert browser.get(f"/files/permits/p.html?sig={sig}").status_code == 401  # other folder
    with TestClient(app) as stranger:
        assert stranger.get("/files/maps/BUS-SIGN.html").status_code == 401
        assert stranger.get(path[:-3] + "abc").status_code == 401  # tampered
        old = files.sign("maps", settings, days=1, now=time.time() - 3 * 86400)
        assert stranger.get(f"/files/maps/BUS-SIGN.html?sig={old}").status_code == 401  # expired
        token = {"Authorization": f"Bearer {people.tokens['manager']}"}
        assert stranger.get("/files/permits/p.html", headers=token).text == "permit"
