"""A prepared operation behind a real uvicorn for the console's tests: the demo campaign (three
convoys, synthetic people), one bus advanced to departure, open delay alerts, and users with
tokens for each role. One site per test module (it is slow to build)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from config import Settings, reset_settings
from models.db import dispose_engines, session_scope

BUS = "BUS-PC-01"
T0 = datetime.fromisoformat("2020-02-20 11:00+08:00")
ROLES = ("coordinator", "manager", "escort", "admin", "permit_officer")
PERMIT_PHONE = "13912345678"


@dataclass
class Site:
    base: str
    settings: Settings
    tokens: dict[str, str]
    full: dict[str, list[str]] = field(default_factory=dict)  # unmasked IDs and phones

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, follow_redirects=False, timeout=30)


def _advance_bus() -> None:
    """BUS-PC-01: mustered (seat 3 absent), verified, screened (seat 5 fever), departed."""
    from models.convoy.checkins import record_checkin
    from models.convoy.lifecycle import Stage
    from models.convoy.operations import advance

    def step(stage: Stage) -> None:
        with session_scope() as s:
            assert advance(s, BUS, stage).status == "done", stage

    with session_scope() as s:
        record_checkin(s, BUS, "muster", {"absent": [3]}, at=T0)
    step(Stage.MUSTERING)
    step(Stage.VERIFIED)
    results = [
        {"seat": n, "temperature": 36.5, "nat_result": "阴性",
         "nat_time": (T0 - timedelta(hours=10)).isoformat(), "health_code": "绿"}
        for n in range(1, 46) if n != 3
    ]  # fmt: skip
    results[3]["temperature"] = 38.4  # seat 5
    with session_scope() as s:
        record_checkin(s, BUS, "screening", {"results": results}, at=T0 + timedelta(hours=1))
    step(Stage.SCREENED)
    with session_scope() as s:
        record_checkin(s, BUS, "depart", {}, at=T0 + timedelta(hours=3))
    step(Stage.DEPARTED)


def _permits() -> None:
    """Two vehicle-pass applications: one filed today (the same-day clock runs), one from 2020
    already surveyed (same day missed)."""
    from datetime import date

    from models.db import utcnow
    from models.permits.lifecycle import apply_for_permit, survey_site

    common: dict[str, Any] = {
        "enterprise": "宁波建工集团有限公司", "vehicle_type": "渣土车", "place": "北仑",
        "contact_name": "王经理", "contact_phone": PERMIT_PHONE,
    }  # fmt: skip
    with session_scope() as s:
        old = apply_for_permit(
            s, plate="浙B12345", site_name="北仑工地", valid_from=date(2020, 2, 20),
            valid_until=date(2020, 3, 31), at=T0, **common,
        )  # fmt: skip
        survey_site(s, old.number, ok=True, note="gate 6 m wide", at=T0 + timedelta(hours=2))
        today = utcnow().date()
        apply_for_permit(
            s, plate="浙BD12345", site_name="镇海工地", valid_from=today,
            valid_until=today + timedelta(days=30), **common,
        )  # fmt: skip


def prepare(settings: Settings) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Build the operation; returns a token per role and the unmasked IDs and phones."""
    from sqlalchemy import select

    from flows.sim.demo import build_demo
    from models.access.users import add_user, issue_token
    from models.convoy.tables import Passenger
    from models.tracking.alerts.checks import run_checks

    with session_scope() as s:
        build_demo(s)
    _advance_bus()
    _permits()
    tokens = {}
    with session_scope() as s:
        add_user(s, "chen", "admin")
        add_user(s, "wang", "coordinator", full_name="王协调")
        add_user(s, "li", "manager", full_name="李领导")
        add_user(s, "zhao", "escort", escort="NB2001")
        add_user(s, "sun", "permit_officer", full_name="孙通行证")
        for role, name in zip(ROLES, ("wang", "li", "zhao", "chen", "sun"), strict=True):
            tokens[role] = issue_token(s, name, days=2)[1]
    with session_scope() as s:
        run_checks(s, None, settings)  # the demo's 2020 plans: every convoy is late now
        people = s.execute(select(Passenger.id_number, Passenger.phone)).all()  # type: ignore[call-overload]
    phones = [p[1] for p in people if p[1]] + [PERMIT_PHONE]
    return tokens, {"ids": [p[0] for p in people], "phones": phones}


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """``flows.api.tracker.create_app`` (the app ``convoy serve`` serves) on a real uvicorn, on
    a free port of 127.0.0.1, in a thread of this process."""
    import uvicorn

    from flows.api.tracker import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@contextmanager
def site(tmp: Path, **env: str) -> Iterator[Site]:
    """A prepared operation served for one test module (SQLite in ``tmp``)."""
    saved = {k: os.environ.get(k) for k in ("CONVOY_VAR_DIR", "CONVOY_DATABASE_URL", *env)}
    os.environ.update({"CONVOY_VAR_DIR": str(tmp / "var"), "CONVOY_DATABASE_URL": "", **env})
    dispose_engines()
    settings = reset_settings()
    try:
        tokens, full = prepare(settings)
        with serve(settings) as base:
            yield Site(base, settings, tokens, full)
    finally:
        dispose_engines()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reset_settings()


def sign_in(client: httpx.Client, token: str) -> str:
    """Sign ``client`` in with ``token``; returns the session's CSRF token."""
    import re

    page = client.get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text
    done = client.post(
        "/console/login", data={"csrf": csrf[1], "token": token, "next": "/console/"}
    )
    assert done.status_code == 303, done.text
    return csrf_of(client)


def csrf_of(client: httpx.Client, path: str = "/console/") -> str:
    import re

    page = client.get(path, follow_redirects=True)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found[1]


def skip_without(module: str) -> Any:
    return pytest.importorskip(module)
