"""Live-operation benchmarks (issue 10), on a real ``convoy serve`` with its own Prefect server.

* ``ops.waiting_rss_ratio``: the resident memory of every process of ``convoy serve`` with 43
  convoys suspended waiting for check-ins, over the same service idle with none. Target ≤ 1.2:
  a waiting convoy holds no process.
* ``ops.resume_latency``: from a muster check-in (recorded and the run resumed, as
  ``convoy checkin`` does) to its stage recorded as done, over a bare Prefect suspend/resume of
  an empty flow served the same way (same server, same runner poll) in the same run: from
  ``resume_flow_run`` to the bare run completed. Target ≤ 2. Median of a few of each.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import Result, ratio

ROOT = Path(__file__).resolve().parents[1]
CONVOYS = 43
SAMPLES = 3
SETTLE_SECONDS = 10.0
WAIT_SECONDS = 1800.0
SH = ZoneInfo("Asia/Shanghai")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kb(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _tree(pid: int) -> set[int]:
    """The process and every process it started (its parts' group included)."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,pgid="], capture_output=True, text=True)
    rows = [tuple(map(int, line.split())) for line in out.stdout.splitlines()]
    found, todo = {pid}, [pid]
    while todo:
        parent = todo.pop()
        for p, pp, _ in rows:
            if pp == parent and p not in found:
                found.add(p)
                todo.append(p)
    groups = {g for p, _, g in rows if p in found and g != pid}
    return found | {p for p, _, g in rows if g in groups}


def _wait(check: Any, what: str, timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)
    return value


def _convoys(n: int) -> list[str]:
    from models.convoy.lifecycle import Mode
    from models.convoy.store import (
        ConvoySpec,
        PassengerRow,
        add_passengers,
        upsert_convoy,
        upsert_enterprise,
    )
    from models.db import session_scope
    from models.intake.identity import synthetic_id, synthetic_mobile

    rng = random.Random(10)
    codes = []
    with session_scope() as session:
        upsert_enterprise(session, "象山示范针织有限公司", contact_name="王经理")
        for i in range(n):
            code = f"BUS-OPS-{i + 1:02d}"
            convoy = upsert_convoy(
                session,
                ConvoySpec(
                    code=code, mode=Mode.BUS, vehicle=f"浙B·O{i:04d}",
                    origin_name="陕西省渭南市蒲城县", origin=(34.955, 109.586),
                    destination_name="浙江省宁波市象山县", destination=(29.477, 121.869),
                    planned_departure=datetime(2020, 2, 20, 14, 0, tzinfo=SH),
                    planned_arrival=datetime(2020, 2, 21, 16, 0, tzinfo=SH),
                    campaign="ops bench",
                ),
            )  # fmt: skip
            rows = [
                PassengerRow(name=f"工人{j}", id_number=synthetic_id(rng, "610526"),
                             phone=synthetic_mobile(rng), employer="象山示范针织有限公司")
                for j in range(4)
            ]  # fmt: skip
            add_passengers(session, convoy, rows)
            codes.append(code)
    return codes


BARE = """
import sys
from pydantic import BaseModel
from prefect import flow, serve
from prefect.flow_runs import suspend_flow_run

class Go(BaseModel):
    ok: bool = True

@flow(name="bare")
def bare() -> None:
    suspend_flow_run(wait_for_input=Go, timeout=3600, key="go")

if __name__ == "__main__":  # the runner imports this file again to run the flow
    every = float(sys.argv[1])
    serve(bare.to_deployment(name="bare"), print_starting_message=False, query_seconds=every)
"""


def run() -> list[Result]:
    var = Path(tempfile.mkdtemp(prefix="convoy-bench-ops-"))
    os.environ["CONVOY_VAR_DIR"] = str(var)
    os.environ["PREFECT_HOME"] = str(var / "prefect")
    # The embedded SQLite Prefect server answers 503 in stalls under load: the clients retry.
    os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", "12")
    prefect_port, http_port, reg_port = _free_port(), _free_port(), _free_port()
    api_url = f"http://127.0.0.1:{prefect_port}/api"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CONVOY_HTTP_PORT": str(http_port)}
    env.pop("PREFECT_API_URL", None)
    os.environ["PREFECT_API_URL"] = api_url

    from config import reset_settings
    from models.db import dispose_engines

    dispose_engines()
    reset_settings()
    codes = _convoys(CONVOYS)
    log = (var / "serve.out").open("w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "flows.cli.main", "serve", "--port", str(http_port),
         "--prefect-port", str(prefect_port), "--registration-port", str(reg_port)],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    bare: subprocess.Popen[bytes] | None = None
    try:
        _wait(lambda: "Ctrl-C stops" in (var / "serve.out").read_text(), "convoy serve")
        time.sleep(SETTLE_SECONDS)
        idle = _rss_kb(_tree(serve.pid))
        waiting, suspended = _suspend_all(codes)
        time.sleep(SETTLE_SECONDS)
        busy = _rss_kb(_tree(serve.pid))
        rss = Result(
            "ops.waiting_rss_ratio", round(busy / idle, 3), "ratio", 1.2,
            "the same convoy serve idle, no convoy", busy / idle <= 1.2,
            {"idle_mb": round(idle / 1024), "waiting_mb": round(busy / 1024),
             "convoys_suspended": suspended, "seconds_to_suspend_all": round(waiting)},
        )  # fmt: skip
        ours = [_resume_convoy(code) for code in codes[:SAMPLES]]
        script = var / "bare_flow.py"  # a flow served from a file (not `python -c`) can deploy
        script.write_text(BARE, encoding="utf-8")
        bare = subprocess.Popen(
            [sys.executable, str(script), "2.0"], env={**env, "PREFECT_API_URL": api_url},
            cwd=var,  # the runner starts the flow by its entrypoint, relative to here
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = [_resume_bare() for _ in range(SAMPLES)]
        latency = ratio(
            "ops.resume_latency", statistics.median(ours), statistics.median(base), 2,
            "bare Prefect suspend/resume of an empty flow, same server and runner poll",
            ours_all_s=[round(x, 2) for x in ours], baseline_all_s=[round(x, 2) for x in base],
        )  # fmt: skip
        return [rss, latency]
    finally:
        if bare is not None:
            bare.send_signal(2)
            bare.wait(timeout=60)
        serve.send_signal(2)
        serve.wait(timeout=120)
        log.close()
        shutil.rmtree(var, ignore_errors=True)


def _runs() -> list[Any]:
    import asyncio

    from prefect.client.orchestration import get_client

    async def read() -> list[Any]:
        async with get_client() as client:
            return await client.read_flow_runs(limit=200)

    return asyncio.run(read())


def _suspend_all(codes: list[str]) -> tuple[float, int]:
    """Start every convoy's run (as the campaign flow does); wait until all are suspended."""
    from flows.service import live

    t0 = time.monotonic()
    _wait(lambda: live.deployment_served("convoy"), "the convoy deployment")
    for code in codes:
        live.start_run("convoy", code, {"code": code}, ["campaign:ops-bench"])

    def all_suspended() -> int:
        paused = [
            r for r in _runs() if r.state and r.state.is_paused() and r.name.startswith("convoy-")
        ]
        return len(paused) if len(paused) >= len(codes) else 0

    n = _wait(all_suspended, "every convoy to suspend")
    return time.monotonic() - t0, n


def _resume_convoy(code: str) -> float:
    """A muster check-in recorded and the run resumed; until the muster stage is recorded."""
    from sqlalchemy import select

    from flows.service.live import resume_after
    from models.convoy.checkins import record_checkin
    from models.convoy.store import get_convoy
    from models.convoy.tables import StageRun
    from models.db import session_scope, utcnow

    t0 = time.monotonic()
    with session_scope() as session:
        record_checkin(session, code, "muster", {}, at=utcnow() - timedelta(minutes=1))
    assert resume_after("convoy", code).startswith("Resumed"), code

    def done() -> bool:
        with session_scope() as session:
            cid = get_convoy(session, code).id
            q = select(StageRun.id).where(StageRun.convoy_id == cid, StageRun.stage == "mustering")  # type: ignore[arg-type]
            return session.execute(q).first() is not None

    _wait(done, f"the muster of {code}")
    return time.monotonic() - t0


def _resume_bare() -> float:
    """A bare run suspended; from its resume to its completion."""
    from prefect.deployments import run_deployment
    from prefect.flow_runs import resume_flow_run

    _wait(lambda: _bare_served(), "the bare deployment")
    run = run_deployment("bare/bare", timeout=0, as_subflow=False)

    def suspended() -> bool:
        state = _state(run.id)
        if state.is_final():
            raise RuntimeError(f"The bare run ended {state.name}: {state.message}")
        return state.is_paused()

    _wait(suspended, "the bare run to suspend")
    t0 = time.monotonic()
    resume_flow_run(run.id, run_input={"ok": True})
    _wait(lambda: _state(run.id).is_completed(), "the bare run to complete")
    return time.monotonic() - t0


def _bare_served() -> bool:
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name("bare/bare")
    except Exception:
        return False
    return True


def _state(run_id: Any) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).state
