"""ETA along the planned route with per-mode speed profiles, and the optional road router."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from config import Settings
from models.errors import ConfigurationError
from models.geo.geodesy import interpolate_along
from models.tracking.eta import (
    OsrmRouter,
    ValhallaRouter,
    make_router,
    planned_eta,
    progress,
    route_of,
    speed_profile,
    thresholds,
)

PUCHENG = (34.955, 109.586)
HEFEI = (31.82, 117.23)
XIANGSHAN = (29.477, 121.869)
ROUTE = [PUCHENG, HEFEI, XIANGSHAN]


def test_profiles_and_thresholds_come_from_the_rule_file(settings: Settings) -> None:
    rules = settings.rule_set
    bus, train = speed_profile(rules, "bus"), speed_profile(rules, "train")
    assert (bus.cruise_kmh, bus.road_factor) == (80, 1.25)
    assert train.cruise_kmh > bus.cruise_kmh
    assert thresholds(rules, "flight").corridor_km == 50
    with pytest.raises(ConfigurationError, match=r"\[speed.boat\]"):
        speed_profile(rules, "boat")


def test_remaining_distance_and_time_shrink_along_the_route(settings: Settings) -> None:
    prof = speed_profile(settings.rule_set, "bus")
    route = route_of(ROUTE)
    start = progress(route, PUCHENG, prof)
    assert start.along_km == pytest.approx(0, abs=0.01)
    assert start.remaining_km == pytest.approx(route.length_km * 1.25, rel=1e-6)
    assert start.waypoints_ahead == 1
    # remaining time = road km / cruise + one dwell at 合肥
    assert start.remaining_min == pytest.approx(start.remaining_km / 80 * 60 + 20, rel=1e-6)
    previous = start.remaining_min
    for frac in (0.25, 0.5, 0.75):
        p = progress(route, interpolate_along(route, frac), prof)
        assert p.remaining_min < previous
        assert p.off_route_km < 0.1
        previous = p.remaining_min
    past_hefei = progress(route, interpolate_along(route, 0.8), prof)
    assert past_hefei.waypoints_ahead == 0
    end = progress(route, XIANGSHAN, prof)
    assert end.remaining_km == pytest.approx(0, abs=0.05)


def test_off_route_distance_and_mode_speeds(settings: Settings) -> None:
    rules = settings.rule_set
    route = route_of(ROUTE)
    shanghai = (31.23, 121.47)  # ~100 km off the 合肥 → 象山 leg
    p = progress(route, shanghai, speed_profile(rules, "bus"))
    assert p.off_route_km > 50
    bus = planned_eta(ROUTE, speed_profile(rules, "bus"), datetime(2020, 2, 20, tzinfo=UTC))
    train = planned_eta(ROUTE, speed_profile(rules, "train"), datetime(2020, 2, 20, tzinfo=UTC))
    flight = planned_eta(ROUTE, speed_profile(rules, "flight"), datetime(2020, 2, 20, tzinfo=UTC))
    assert flight < train < bus
    later = datetime(2020, 2, 20, 5, tzinfo=UTC)
    assert planned_eta(
        ROUTE, speed_profile(rules, "bus"), datetime(2020, 2, 20, tzinfo=UTC), now=later
    ) - bus == timedelta(hours=5)


class _Router(BaseHTTPRequestHandler):
    calls: list[str] = []  # noqa: RUF012

    def do_GET(self) -> None:
        _Router.calls.append(self.path)
        body = json.dumps({"code": "Ok", "routes": [{"distance": 1500000.0, "duration": 72000}]})
        self._reply(body)

    def do_POST(self) -> None:
        n = int(self.headers["Content-Length"])
        doc = json.loads(self.rfile.read(n))
        _Router.calls.append(f"POST {len(doc['locations'])}")
        self._reply(json.dumps({"trip": {"summary": {"length": 1400.0, "time": 68400}}}))

    def _reply(self, body: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def router_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Router)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_router_plugins_replace_the_estimate_and_fall_back(
    settings: Settings, router_url: str
) -> None:
    prof = speed_profile(settings.rule_set, "bus")
    route = route_of(ROUTE)
    osrm = progress(route, PUCHENG, prof, OsrmRouter(router_url))
    assert osrm.remaining_km == pytest.approx(1500)
    assert osrm.remaining_min == pytest.approx(1200 + 20)  # 20 h + one dwell
    assert any(
        c.startswith("/route/v1/driving/109.586000,34.955000;117.230000") for c in _Router.calls
    )
    valhalla = progress(route, PUCHENG, prof, ValhallaRouter(router_url))
    assert valhalla.remaining_km == pytest.approx(1400)
    assert "POST 3" in _Router.calls
    # A router that does not answer: the geodesic estimate is used.
    dead = progress(route, PUCHENG, prof, OsrmRouter("http://127.0.0.1:9", timeout=0.5))
    assert dead.remaining_km == pytest.approx(route.length_km * 1.25, rel=1e-6)
    assert make_router("none", "") is None
    with pytest.raises(ConfigurationError, match="ROUTER_URL"):
        make_router("osrm", "")
