"""Real OsmAnd-protocol requests (as Traccar Client sends them) to a running uvicorn process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from config import Settings
from models.convoy.store import assign_escort, get_convoy, upsert_escort
from models.convoy.tables import Position
from models.db import session_scope
from models.geo.geodesy import interpolate_along
from models.tracking.devices import bind_device
from models.tracking.eta import route_of
from models.tracking.tables import DeviceReport, TrackState
from tests.conftest import child_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    port = free_port()
    env = child_env(settings)  # this test's var/ folder and database
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.api.tracker", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).text == "ok":
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            err = proc.stderr.read().decode() if proc.stderr else ""
            proc.kill()
            raise RuntimeError(f"the tracker endpoint did not start: {err}")
        time.sleep(0.1)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_traccar_client_reports_positions(
    make_convoy: Callable[..., str], settings: Settings, server: str
) -> None:
    code = make_convoy("BUS-HTTP", n=2)
    with session_scope() as s:
        c = get_convoy(s, code)
        e = upsert_escort(s, "P5001", name="孙警官")
        assign_escort(s, c, e)
        _, token = bind_device(s, "traccar-01", "P5001", code)
        route = route_of(c.route())
    now = datetime.now(UTC).replace(microsecond=0)
    lat, lon = interpolate_along(route, 0.1)
    query = {"id": "traccar-01", "lat": lat, "lon": lon, "timestamp": int(now.timestamp()),
             "speed": 43.2, "bearing": 120, "altitude": 410, "accuracy": 6, "batt": 88}  # fmt: skip
    # GET with the token in the path (the app's server URL).
    r = httpx.get(f"{server}/osmand/{token}", params=query, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "live" and body["remaining_km"] > 0 and "eta" in body
    # The same fix again (the app retries): stored once.
    r = httpx.post(f"{server}/osmand/{token}", params=query, timeout=10)
    assert r.json()["status"] == "duplicate"
    # POST form-encoded, token in the query, a later fix.
    lat2, lon2 = interpolate_along(route, 0.12)
    later = now + timedelta(minutes=5)
    form = {**query, "lat": lat2, "lon": lon2, "timestamp": int(later.timestamp()), "token": token}
    r = httpx.post(f"{server}/osmand", data={k: str(v) for k, v in form.items()}, timeout=10)
    assert r.json()["status"] == "live"
    # JSON body of newer app versions, bearer token, an older fix: out of order.
    doc = {
        "device_id": "traccar-01",
        "location": {
            "timestamp": (now - timedelta(minutes=1)).isoformat(),
            "coords": {"latitude": lat, "longitude": lon, "speed": 11.0, "heading": 90},
            "battery": {"level": 0.87},
        },
    }
    r = httpx.post(f"{server}/", json=doc, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.json()["status"] == "out_of_order"
    # A replayed hour-old fix is stored but flagged stale.
    old = {**query, "timestamp": int((now - timedelta(hours=1)).timestamp())}
    assert httpx.get(f"{server}/osmand/{token}", params=old, timeout=10).json()["status"] == (
        "out_of_order"
    )
    # Wrong token, unknown device, bad numbers.
    assert httpx.get(f"{server}/osmand/nope", params=query, timeout=10).status_code == 401
    other = {**query, "id": "stranger"}
    assert httpx.get(f"{server}/osmand/{token}", params=other, timeout=10).status_code == 401
    bad = {**query, "lat": "north"}
    r = httpx.get(f"{server}/osmand/{token}", params=bad, timeout=10)
    assert r.status_code == 400 and "not a number" in r.json()["error"]
    with session_scope() as s:
        c = get_convoy(s, code)
        n = s.execute(select(func.count()).where(Position.convoy_id == c.id)).scalar_one()
        assert n == 4
        state = s.get(TrackState, c.id)
        assert state is not None and state.last_fix_at == later
        assert state.speed_kmh == pytest.approx(43.2 * 1.852, abs=0.01)
        statuses = [
            r.status for r in s.execute(select(DeviceReport).order_by(DeviceReport.id)).scalars()
        ]
    assert statuses == ["live", "duplicate", "live", "out_of_order", "out_of_order"]
