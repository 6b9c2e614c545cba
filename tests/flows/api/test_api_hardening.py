"""Bad input cannot break the HTTP API: each request that used to crash a handler (issue 11) is
a 4xx with its reason and stores nothing; bodies are limited, echoed values cut and masked,
security headers on every answer, 401/403 consistent, no token in the access log."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from typer.testing import CliRunner

from config import Settings
from flows.api.guard import load_json
from flows.api.tracker import create_app
from flows.cli.main import app as cli
from models.access.users import revoke_token
from models.convoy.tables import CheckIn, Position
from models.db import session_scope
from models.errors import ValidationError
from models.tracking.devices import revoke_device
from models.tracking.tables import Device, DeviceReport
from tests.conftest import child_env
from tests.flows.api.people import DEVICE_ID, People, make_people
from tests.flows.api.test_tracker import free_port

NOW = int(datetime.now(UTC).timestamp())
GOOD = {"id": DEVICE_ID, "lat": "31.82", "lon": "117.23", "timestamp": str(NOW), "speed": "40"}


@pytest.fixture
def people(make_convoy: Callable[..., str], settings: Settings) -> People:
    return make_people(make_convoy)


@pytest.fixture
def client(people: People, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def _stored() -> tuple[int, int, int]:
    with session_scope() as s:
        return tuple(  # type: ignore[return-value]
            s.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (Position, DeviceReport, CheckIn)
        )


def _error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text[:300])
    message = r.json()["error"]
    assert isinstance(message, str) and message.endswith(".") and len(message) < 400, message
    return message


QUERY_CRASHES = [
    {"timestamp": "nan"},
    {"timestamp": "inf"},
    {"timestamp": "1e400"},
    {"timestamp": "1e20"},
    {"timestamp": "-62135596801"},
    {"timestamp": "12345678901234567890"},
    {"timestamp": "0001-01-01T00:00:00Z"},
    {"timestamp": "0001-01-01T00:00:00+14:00"},
    {"batt": "1e309"},
    {"speed": "inf"},
    {"speed": "-5"},
    {"lat": "nan"},
    {"bearing": "720"},
]


def test_osmand_query_values_out_of_range_are_refused(client: TestClient, people: People) -> None:
    for change in QUERY_CRASHES:
        for send in (client.get, client.post):
            r = send(f"/osmand/{people.device}", params={**GOOD, **change})
            message = _error(r, 400)
            assert next(iter(change)) in message or "time" in message, (change, message)
        form = {**GOOD, **change, "token": people.device}
        assert client.post("/osmand", data=form).status_code == 400, change
    assert _stored() == (0, 0, 0)
    assert client.get(f"/osmand/{people.device}", params=GOOD).json()["status"] == "live"


def _json_report(**location: Any) -> dict[str, Any]:
    return {
        "device_id": DEVICE_ID,
        "location": {
            "timestamp": datetime.now(UTC).isoformat(),
            "coords": {"latitude": 31.82, "longitude": 117.23},
            **location,
        },
    }


JSON_CRASHES: list[tuple[str, str]] = [
    ("coords list", json.dumps(_json_report(coords=[31.8, 117.2]))),
    ("coords string", json.dumps(_json_report(coords="31.8,117.2"))),
    ("coords number", json.dumps(_json_report(coords=31.8))),
    ("coords bool", json.dumps(_json_report(coords=True))),
    ("booleans as coordinates",
     json.dumps(_json_report(coords={"latitude": True, "longitude": True}))),
    ("timestamp Infinity", json.dumps(_json_report(timestamp=float("inf")))),
    ("timestamp NaN", json.dumps(_json_report(timestamp=float("nan")))),
    ("timestamp 1e400", json.dumps(_json_report()).replace('"timestamp": "', '"t": "')
     .replace('"location": {', '"location": {"timestamp": 1e400, ')),
    ("year 0001", json.dumps(_json_report(timestamp="0001-01-01T00:00:00Z"))),
    ("battery 1e309",
     json.dumps(_json_report()).replace('"coords"', '"battery": {"level": 1e309}, "coords"')),
    ("location list", json.dumps({"device_id": DEVICE_ID, "location": [1, 2]})),
    ("array body", "[1, 2]"),
    ("not json", "{nope"),
]  # fmt: skip


def test_osmand_json_bodies_that_crashed_are_refused(client: TestClient, people: People) -> None:
    auth = {"Authorization": f"Bearer {people.device}", "Content-Type": "application/json"}
    for name, body in JSON_CRASHES:
        r = client.post("/osmand", content=body, headers=auth)
        assert r.status_code == 400, (name, r.text)
        _error(r, 400)
    assert _stored() == (0, 0, 0)
    r = client.post("/osmand", content=json.dumps(_json_report()), headers=auth)
    assert r.json()["status"] == "live"


def test_deeply_nested_json_is_refused(client: TestClient, people: People) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    auth = {"Authorization": f"Bearer {people.device}", "Content-Type": "application/json"}
    assert client.post("/osmand", content=deep, headers=auth).status_code == 413  # > 16 KB
    assert client.post("/osmand", content="[" * 5000, headers=auth).status_code == 400
    r = client.post("/api/checkins", content=deep, headers=auth)
    assert "nested too deeply" in _error(r, 422)
    nested = '{"kind": "depart", "payload": ' + '{"a": ' * 40 + "1" + "}" * 41
    assert "nested too deeply" in _error(
        client.post("/api/checkins", content=nested, headers=auth), 422
    )
    assert _stored() == (0, 0, 0)


POS = '{"kind": "position", "payload": {"lat": 30, "lon": 120, "speed_kmh": '
SEATS = ",".join(["1"] * 6000)
CHECKIN_CRASHES = [
    ('{"kind": "depart", "at": NaN}', "not valid JSON"),
    ('{"kind": "depart", "at": Infinity}', "not valid JSON"),
    ('{"kind": "depart", "at": -Infinity}', "not valid JSON"),
    ('{"kind": "depart", "at": 1e400}', "not valid JSON"),
    ('{"kind": "depart", "at": 1e20}', "out of range"),
    ('{"kind": "depart", "at": "0001-01-01T00:00:00"}', "before 2000-01-01"),
    ('{"kind": "depart", "at": true}', "true or false"),
    ('{"kind": "position", "payload": {"lat": true, "lon": true}}', "true or false"),
    (POS + "-4}}", "speed_kmh"),
    (POS + "1e309}}", "not valid JSON"),
    ('{"kind": "screening", "payload": {"results": [{"seat": 1, "temperature": 1e308}]}}', ""),
    ('{"kind": "muster", "payload": {"reason": "' + "x" * 600 + '"}}', "longer than 500"),
    ('{"kind": "muster", "payload": {"absent": [' + SEATS + "]}}", "longer than 5000"),
    ('{"kind": "depart", "convoy": "' + "C" * 500 + '"}', "longer than 64"),
    ('{"kind": "' + "k" * 10_000 + '"}', "is not a kind"),
]  # fmt: skip


def test_check_ins_with_values_out_of_range_are_refused(client: TestClient, people: People) -> None:
    auth = {"Authorization": f"Bearer {people.device}", "Content-Type": "application/json"}
    for body, message in CHECKIN_CRASHES:
        r = client.post("/api/checkins", content=body, headers=auth)
        assert r.status_code in (409, 422), (body[:80], r.text)
        error = r.json()["error"]
        assert message in error and len(error) < 400, (body[:80], error)
    assert _stored() == (0, 0, 0)


def test_every_endpoint_limits_its_body(client: TestClient, people: People) -> None:
    big = b"x" * (10 * 1024 * 1024)
    auth = {"Authorization": f"Bearer {people.device}"}
    for method, path in [
        ("POST", "/osmand"),
        ("POST", f"/osmand/{people.device}"),
        ("POST", "/"),
        ("POST", "/api/checkins"),
        ("GET", "/api/convoy"),
        ("GET", "/reports/campaign"),
        ("GET", "/health"),
    ]:
        r = client.request(method, path, content=big, headers=auth)
        assert "larger than" in _error(r, 413), path

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it comes
        for _ in range(40):
            yield b'{"kind": "muster", "payload": {"reason": "' + b"y" * 10_000

    r = client.post("/api/checkins", content=chunks(), headers=auth)
    _error(r, 413)
    assert _stored() == (0, 0, 0)


def test_echoed_values_are_cut_and_masked(client: TestClient, people: People) -> None:
    long_id = "x" * 10_000
    r = client.get(f"/osmand/{people.device}", params={**GOOD, "id": long_id})
    message = _error(r, 400)
    assert "longer than 64" in message and "x" * 50 not in message
    r = client.get("/osmand/nope", params={**GOOD, "id": "13812345678"})
    message = _error(r, 401)
    assert "138****5678" in message and "13812345678" not in message
    r = client.get("/reports/convoys/" + "Z" * 70, headers=_auth(people.tokens["manager"]))
    assert "longer than 64" in _error(r, 422) and "Z" * 20 not in r.text
    r = client.get("/api/convoy", params={"convoy": "330225199001011234"},
                   headers=_auth(people.tokens["coordinator"]))  # fmt: skip
    message = _error(r, 404)
    assert "330225199001011234" not in message and "3302" in message


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_401_for_credentials_that_do_not_authenticate_403_for_a_caller_not_allowed(
    client: TestClient, people: People
) -> None:
    manager, coordinator = people.tokens["manager"], people.tokens["coordinator"]
    for headers in [{}, _auth("nope"), _auth("cvo_nope"), {"Authorization": "Basic abc"}]:
        r = client.get("/api/convoy", headers=headers)
        _error(r, 401)
        assert r.headers["www-authenticate"] == "Bearer"
    assert client.get("/reports/campaign", headers=_auth(manager)).status_code == 200
    _error(client.get("/reports/campaign", headers=_auth(people.device)), 403)
    # A user token is no tracker's: 403 on the OsmAnd endpoint; a wrong one 401.
    assert client.get(f"/osmand/{coordinator}", params=GOOD).status_code == 403
    assert client.get("/osmand/cvo_nope", params=GOOD).status_code == 401
    # Revoked or expired: the same 401 for a device and for a user, on every endpoint.
    with session_scope() as s:
        revoke_device(s, DEVICE_ID)
        revoke_token(s, 2)  # the coordinator's (the admin's is #1)
    for r in [
        client.get(f"/osmand/{people.device}", params=GOOD),
        client.post("/api/checkins", json={"kind": "depart"}, headers=_auth(people.device)),
        client.get("/api/tasks", headers=_auth(people.device)),
        client.get("/reports/campaign", headers=_auth(coordinator)),
    ]:
        assert "revoked" in _error(r, 401)
    assert _stored() == (0, 0, 0)


def test_security_headers_and_the_openapi_document(client: TestClient, people: People) -> None:
    for r in [
        client.get("/health"),
        client.get("/openapi.json"),
        client.get("/api/convoy"),
        client.get("/nowhere"),
        client.post("/api/checkins", content=b"x" * 10_000_000),
    ]:
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["x-frame-options"] == "DENY"
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert r.headers["referrer-policy"] == "no-referrer"
    assert client.get("/nowhere").json()["error"].startswith("There is no such endpoint")
    doc = client.get("/openapi.json").json()
    paths = set(doc["paths"])
    assert {"/osmand", "/osmand/{token}", "/api/checkins", "/api/convoy", "/api/tasks",
            "/reports/campaign", "/reports/convoys/{code}", "/files/{path}",
            "/health"} <= paths  # fmt: skip
    schemas = doc["components"]["schemas"]
    assert {"CheckinRequest", "OsmAndFields", "OsmAndJson", "ErrorBody"} <= set(schemas)
    body = doc["paths"]["/api/checkins"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/CheckinRequest"}
    osmand = doc["paths"]["/osmand"]["post"]
    assert {p["name"] for p in osmand["parameters"]} >= {"id", "lat", "lon", "timestamp", "batt"}
    assert set(osmand["requestBody"]["content"]) == {
        "application/json", "application/x-www-form-urlencoded"
    }  # fmt: skip
    assert schemas["OsmAndFields"]["properties"]["id"]["anyOf"][0]["maxLength"] == 64
    assert "HTTPBearer" in doc["components"]["securitySchemes"]


def test_device_list_json_is_always_valid_json(
    client: TestClient, people: People, settings: Settings
) -> None:
    with session_scope() as s:  # a value stored before reports were checked
        device = s.execute(select(Device)).scalars().one()
        device.battery = float("inf")
    r = CliRunner().invoke(cli, ["device", "list", "--json"])
    assert r.exit_code == 0, r.output

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in the JSON output")

    rows = json.loads(r.output, parse_constant=refuse)
    assert rows[0]["device_id"] == DEVICE_ID and rows[0]["battery"] is None


def test_the_access_log_shows_no_token(people: People, settings: Settings) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "flows.api.tracker:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "info", "--access-log"],
        env=child_env(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.1)
        fix = {
            **GOOD,
            "timestamp": str(int((datetime.now(UTC) - timedelta(minutes=1)).timestamp())),
        }
        assert httpx.get(f"{base}/osmand/{people.device}", params=fix).status_code == 200
        httpx.get(f"{base}/osmand", params={**fix, "token": people.device})
        httpx.get(f"{base}/api/convoy", headers=_auth(people.device))
    finally:
        proc.terminate()
        out = proc.communicate(timeout=15)[0].decode()
    assert "/osmand/… " in out or "/osmand/…?" in out, out[-2000:]
    assert "token=…" in out
    assert people.device not in out


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                 st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=5),
                              lambda c: st.lists(c, max_size=3) | st.dictionaries(
                                  st.text(max_size=3), c, max_size=3)).map(
                                      lambda v: json.dumps(v).encode())))  # fmt: skip
def test_json_bodies_load_or_are_refused(raw: bytes) -> None:
    try:
        doc = load_json(raw)
    except ValidationError:
        return
    json.dumps(doc, allow_nan=False)  # raises on a number that is not finite


def test_a_convoy_kept_busy_is_a_conflict_to_send_again_not_a_bad_request() -> None:
    from flows.api.field.routes import status_of as field_status
    from flows.api.guard import status_of
    from models.errors import BusyError

    busy = BusyError("Another transaction has kept convoy X busy for more than 30 seconds.")
    assert status_of(busy, tracker=False) == status_of(busy, tracker=True) == 409
    assert field_status(busy) == 409
