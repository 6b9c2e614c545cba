"""The campaign benchmark counts the Prefect client's waits before it tries a request again by
reading the client's own debug line: a real client, refused once by a local server, is
counted (a Prefect release that words the line otherwise fails here, not silently in the
benchmark's detail)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.campaign_worker import RetrySleeps, _floors


class _BusyOnce(BaseHTTPRequestHandler):
    """Answers 503 (busy, try again in 0.2 s) to the first request, 200 to the others."""

    refused = 0

    def do_GET(self) -> None:
        first = _BusyOnce.refused == 0
        _BusyOnce.refused += first
        body = b"{}"
        self.send_response(503 if first else 200)
        if first:
            self.send_header("Retry-After", "0.2")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def busy_once() -> Iterator[str]:
    _BusyOnce.refused = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BusyOnce)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_wait_of_prefects_client_before_it_tries_again_is_counted(busy_once: str) -> None:
    from prefect.client.base import PrefectHttpxSyncClient

    sleeps = RetrySleeps()
    log = logging.getLogger("prefect.client")
    level = log.level
    log.addFilter(sleeps)
    log.setLevel(logging.DEBUG)
    try:
        with PrefectHttpxSyncClient(base_url=busy_once) as client:
            assert client.get("/health").status_code == 200
    finally:
        log.removeFilter(sleeps)
        log.setLevel(level)
    waits, seconds = sleeps.take()
    assert waits == 1 and 0.2 <= seconds <= 1.0, (waits, seconds)
    assert sleeps.take() == (0, 0.0)  # taken: counted from zero again


def test_the_floors_are_our_cpu_over_the_cores_and_the_busiest_process_over_the_baseline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0, 1})
    run = {"ours_cpu_s": 20.0, "ours_escorts_cpu_s": 12.0, "ours_server_cpu_s": 8.0}
    assert _floors({**run, "baseline_s": 10.0}) == {
        "cores": 2,
        "cpu_floor_ratio": 2.0,  # 40 CPU s on two cores: 20 s at best, over 10 s
        "process_floor_ratio": 2.0,  # the campaign's process alone: 20 s
    }
    spread = {**run, "ours_cpu_s": 10.0, "ours_escorts_cpu_s": 10.0, "baseline_s": 10.0}
    assert _floors(spread) == {"cores": 2, "cpu_floor_ratio": 1.4, "process_floor_ratio": 1.0}
    # The server's CPU could not be read: counted as none.
    assert _floors({**spread, "ours_server_cpu_s": None})["cpu_floor_ratio"] == 1.0
