"""Escorts' check-ins over the JSON API (bearer device token) to a running uvicorn process."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col
from typer.testing import CliRunner

from config import Settings
from flows.cli.main import app
from models.convoy.lifecycle import Stage
from models.convoy.operations import advance
from models.convoy.store import assign_escort, get_convoy, passengers, upsert_escort
from models.convoy.tables import CheckIn, Enterprise, Position
from models.db import session_scope
from models.geo.datums import to_wgs84
from models.tracking.devices import bind_device, revoke_device
from tests.conftest import ENTERPRISES, SHANGHAI
from tests.flows.api import test_tracker as test_http_api

server = test_http_api.server  # the same real uvicorn subprocess fixture

T0 = datetime(2020, 2, 20, 11, 0, tzinfo=SHANGHAI)
ESCORT_PHONE = "13905741234"
CONTACT_PHONE = "13857400001"
FORM = "application/x-www-form-urlencoded"


class Client:
    """Calls the API with one device token and keeps every response body for the privacy check."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.seen: list[str] = []

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def post(
        self, kind: str, payload: dict[str, Any] | None = None, **extra: Any
    ) -> httpx.Response:
        body = {"kind": kind, "payload": payload or {}, **extra}
        r = httpx.post(f"{self.base}/api/checkins", json=body, headers=self._headers(), timeout=10)
        self.seen.append(r.text)
        return r

    def get(self, path: str, **params: str) -> httpx.Response:
        r = httpx.get(f"{self.base}{path}", params=params, headers=self._headers(), timeout=10)
        self.seen.append(r.text)
        return r


def _setup(make_convoy: Callable[..., str], code: str, n: int) -> tuple[str, str]:
    """A convoy with an escort (with a phone on record) who has a bound device; its token."""
    make_convoy(code, n=n)
    with session_scope() as s:
        c = get_convoy(s, code)
        e = upsert_escort(s, "P7001", name="钱警官", phone=ESCORT_PHONE)
        assign_escort(s, c, e)
        for ent in s.execute(select(Enterprise)).scalars():
            ent.contact_phone = CONTACT_PHONE
        _, token = bind_device(s, "tablet-01", "P7001", code)
    return code, token


def _step(code: str, stage: Stage) -> str:
    with session_scope() as s:
        return advance(s, code, stage).status


def _results(seats: list[int], at: datetime) -> list[dict[str, Any]]:
    return [
        {
            "seat": n,
            "temperature": 36.5,
            "nat_result": "阴性",
            "nat_time": (at - timedelta(hours=10)).isoformat(),
            "health_code": "绿",
        }
        for n in seats
    ]


def _personal_data(code: str) -> list[str]:
    with session_scope() as s:
        people = passengers(s, get_convoy(s, code))
        return (
            [p.id_number for p in people]
            + [p.phone for p in people if p.phone]
            + [p.name for p in people]
        )


def test_escort_reports_a_convoy_to_close_over_http(
    make_convoy: Callable[..., str], settings: Settings, server: str
) -> None:
    code, token = _setup(make_convoy, "BUS-API", n=6)
    api = Client(server, token)
    status = api.get("/api/convoy").json()
    assert status["code"] == code and status["stage"] == "planned"
    assert status["next_step"] == "mustering" and status["waiting_for"] == "muster"
    assert status["checkin_received"] is False and status["passengers"] == 6
    tasks = api.get("/api/tasks").json()
    assert tasks["convoy"] == code
    assert [t["step"] for t in tasks["tasks"] if t["status"] == "next"] == ["muster"]
    assert _step(code, Stage.MUSTERING) == "waiting"

    # Muster: seat 2 did not show. Sent twice with the same time (a retry): stored once.
    muster = {"absent": [2], "reason": "did not show"}
    r = api.post("muster", muster, at=T0.isoformat())
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["kind"] == "muster" and first["convoy"] == code
    assert datetime.fromisoformat(first["at"]) == T0 and isinstance(first["id"], int)
    again = api.post("muster", muster, at=T0.isoformat())
    assert again.status_code == 200 and again.json() == first
    assert api.get("/api/convoy").json()["checkin_received"] is True
    assert _step(code, Stage.MUSTERING) == "done"
    assert _step(code, Stage.VERIFIED) == "done"

    # Screening with a time without an offset (the display time zone); seat 4 has a fever.
    at = T0 + timedelta(hours=1)
    results = _results([1, 3, 4, 5, 6], at)
    results[2]["temperature"] = 38.5
    r = api.post("screening", {"results": results}, at=at.replace(tzinfo=None).isoformat())
    assert r.status_code == 201, r.text
    assert datetime.fromisoformat(r.json()["at"]) == at
    assert _step(code, Stage.SCREENED) == "done"
    assert api.get("/api/convoy").json()["waiting_for"] == "depart"

    # As `curl -d '{"kind": …}'` sends it: a form content type, a JSON body.
    depart = {"kind": "depart", "payload": {}, "at": (T0 + timedelta(hours=3)).isoformat()}
    r = httpx.post(
        f"{server}/api/checkins",
        content=json.dumps(depart),
        headers={"Authorization": f"Bearer {token}", "Content-Type": FORM},
        timeout=10,
    )
    assert r.status_code == 201 and r.json()["kind"] == "depart", r.text
    assert _step(code, Stage.DEPARTED) == "done"
    # Under way: a position given in GCJ-02 (stored in WGS-84) and entry applications.
    r = api.post(
        "position",
        {"lat": 31.82, "lon": 117.24, "speed_kmh": 80},
        at=(T0 + timedelta(hours=10)).isoformat(),
        crs="gcj02",
    )
    assert r.status_code == 201, r.text
    assert api.post("entry", {"seats": [1, 3]}).status_code == 201  # at: now
    assert _step(code, Stage.IN_TRANSIT) == "done"

    assert api.post("arrive", {"missing": []}, at=(T0 + timedelta(hours=29)).isoformat()).is_success
    assert _step(code, Stage.ARRIVED) == "done"
    at = T0 + timedelta(hours=29, minutes=20)
    r = api.post("arrival_screening", {"results": _results([1], at)}, at=at.isoformat())
    assert r.status_code == 201, r.text
    assert _step(code, Stage.ARRIVAL_SCREENED) == "done"
    status = api.get("/api/convoy").json()
    assert status["waiting_for"] == "handoff" and status["checkin_received"] is False
    handoff = [t for t in api.get("/api/tasks").json()["tasks"] if t["step"] == "handoff"]
    assert handoff[0]["status"] == "next"
    assert {e["enterprise"] for e in handoff[0]["enterprises"]} == set(ENTERPRISES)

    for n, ent in enumerate(ENTERPRISES):
        at = T0 + timedelta(hours=30, minutes=n)
        body = {"enterprise": ent, "received_by": "王经理", "location": "象山县丹东路1号"}
        assert api.post("handoff", body, at=at.isoformat()).status_code == 201
    # The flow resumes from the completed stages, applies the handoffs and closes the convoy.
    result = CliRunner().invoke(app, ["run", code, "--max-wait", "5", "--poll", "0.05"])
    assert result.exit_code == 0, result.output

    status = api.get("/api/convoy").json()
    assert status["stage"] == "closed" and status["next_step"] is None
    assert status["waiting_for"] is None and status["in_custody"] == 0
    assert status["passengers"] == status["handed_off"] + status["held"] + status["withdrawn"]
    assert (status["withdrawn"], status["held"], status["handed_off"]) == (1, 1, 4)
    assert [st["stage"] for st in status["stages"]][-1] == "closed"
    assert api.get("/api/tasks").json()["tasks"] == []  # closed convoys have no tasks

    with session_scope() as s:
        c = get_convoy(s, code)
        rows = list(s.execute(select(CheckIn).where(col(CheckIn.convoy_id) == c.id)).scalars())
        assert len(rows) == 9  # the repeated muster was stored once
        assert {r.source for r in rows} == {"http"}
        assert len({r.escort_id for r in rows}) == 1 and rows[0].escort_id is not None
        pos = s.execute(select(Position).where(col(Position.convoy_id) == c.id)).scalars().one()
        expected = to_wgs84(31.82, 117.24, "gcj02")  # a few hundred metres off
        assert (pos.lat, pos.lon) == pytest.approx(expected) and pos.lon != 117.24
    # No ID number, phone number or passenger name in any response.
    text = "\n".join(api.seen)
    for secret in [*_personal_data(code), ESCORT_PHONE, CONTACT_PHONE]:
        assert secret not in text
    assert not re.search(r"\d{17}[\dXx]|1[3-9]\d{9}", text)


def test_tokens_are_checked(
    make_convoy: Callable[..., str], settings: Settings, server: str
) -> None:
    code, token = _setup(make_convoy, "BUS-AUTH", n=2)
    make_convoy("BUS-OTHER", n=2, seed=2)
    cases: list[tuple[Client, str, dict[str, str], int, str]] = [
        (Client(server, ""), "/api/convoy", {}, 401, "Authorization: Bearer TOKEN"),
        (Client(server, "not-a-token"), "/api/tasks", {}, 401, "token is not valid"),
        (Client(server, token), "/api/convoy", {"convoy": "BUS-OTHER"}, 403, "for convoy BUS-AUTH"),
    ]
    for client, path, params, status, message in cases:
        r = client.get(path, **params)
        assert r.status_code == status, (path, r.text)
        error = r.json()["error"]
        assert message in error and error[0].isupper() and error.endswith(".")
        if status == 401:
            assert r.headers["www-authenticate"] == "Bearer"
    # A check-in for another convoy, or without a valid token, records nothing.
    r = Client(server, token).post("depart", {}, convoy="BUS-OTHER")
    assert r.status_code == 403 and "not BUS-OTHER" in r.json()["error"]
    r = Client(server, token + "x").post("depart", {})
    assert r.status_code == 401
    r = httpx.post(
        f"{server}/api/checkins",
        json={"kind": "depart"},
        headers={"Authorization": f"Basic {token}"},
        timeout=10,
    )
    assert r.status_code == 401
    # The token works for its own convoy (named or not).
    assert Client(server, token).get("/api/convoy", convoy=code).status_code == 200
    # Revoked: its credentials no longer authenticate (401, as for an expired user token);
    # bound again: the old token stops, the new one works.
    with session_scope() as s:
        revoke_device(s, "tablet-01")
    r = Client(server, token).post("depart", {})
    assert r.status_code == 401 and "has been revoked" in r.json()["error"]
    with session_scope() as s:
        assign_escort(s, get_convoy(s, "BUS-OTHER"), upsert_escort(s, "P7001"))
        _, new = bind_device(s, "tablet-01", "P7001", "BUS-OTHER")
    assert Client(server, token).get("/api/convoy").status_code == 401
    assert Client(server, new).get("/api/convoy").json()["code"] == "BUS-OTHER"
    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(CheckIn)).scalar_one() == 0


BAD: list[tuple[Any, str]] = [
    ({"kind": "roll-call"}, "'roll-call' is not a kind of check-in; use one of muster"),
    ({"payload": {}}, "needs a 'kind'"),
    ({"kind": "muster", "payload": {"absent": ["x"]}}, "invalid at absent.0"),
    ({"kind": "muster", "payload": {"absent": [99]}}, "no passenger in seat(s) 99"),
    ({"kind": "muster", "payload": {"absents": [1]}}, "no field 'absents'"),
    ({"kind": "handoff", "payload": {"enterprise": "x"}}, "invalid at received_by"),
    ({"kind": "screening", "payload": {"results": [{"seat": 1, "temp": 36}]}}, "'temp' at"),
    ({"kind": "position", "payload": {"lat": 95, "lon": 120}}, "invalid at lat"),
    ({"kind": "depart", "payload": [1]}, "'payload' must be a JSON object"),
    ({"kind": "depart", "when": "now"}, "no field 'when'"),
    ({"kind": "depart", "at": "yesterday"}, "'yesterday' is not a time"),
    ({"kind": "depart", "at": "2999-01-01T00:00:00+08:00"}, "later than the server clock"),
    ({"kind": "depart", "crs": "gcj02"}, "'crs' applies to position check-ins only"),
    ([{"kind": "depart"}], "must be a JSON object"),
    ("{not json", "not valid JSON"),
    ("", "has no body"),
]


def test_a_bad_check_in_is_refused_with_the_reason(
    make_convoy: Callable[..., str], settings: Settings, server: str
) -> None:
    _, token = _setup(make_convoy, "BUS-BAD", n=3)
    for body, message in BAD:
        content = body if isinstance(body, str) else json.dumps(body)
        r = httpx.post(
            f"{server}/api/checkins",
            content=content,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=10,
        )
        assert r.status_code == 422, (body, r.text)
        error = r.json()["error"]
        assert message in error, (body, error)
        assert error[0].isupper() or error[0] == "'", error
        assert error.endswith("."), error
    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(CheckIn)).scalar_one() == 0


def test_a_check_in_that_does_not_fit_the_convoy_is_refused(
    make_convoy: Callable[..., str], settings: Settings, server: str
) -> None:
    code, token = _setup(make_convoy, "BUS-FIT", n=3)
    api = Client(server, token)
    r = api.post("arrive", {}, at=T0.isoformat())  # nobody has departed
    assert r.status_code == 409 and "has no depart check-in yet" in r.json()["error"]
    assert api.post("muster", {}, at=T0.isoformat()).status_code == 201
    r = api.post("screening", {"results": []}, at=(T0 - timedelta(hours=1)).isoformat())
    assert r.status_code == 422, r.text
    assert "would come before the muster check-in" in r.json()["error"]
    with session_scope() as s:
        get_convoy(s, code).stage = Stage.CLOSED.value
    r = api.post("position", {"lat": 30.0, "lon": 120.0})
    assert r.status_code == 409 and "is closed" in r.json()["error"]
    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(CheckIn)).scalar_one() == 1
        assert s.execute(select(func.count()).select_from(Position)).scalar_one() == 0
