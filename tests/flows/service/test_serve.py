"""A real ``convoy serve``: a convoy triggered with ``prefect deployment run`` and driven to
``closed`` by CLI and HTTP check-ins, suspended in between and resumed by each; one flow run for
the whole trip; a second trigger attaches or is refused; the map artifact links over HTTP. Then
``kill -9`` of the service (nothing left behind) and a restart that finds the convoy again."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from config import Settings
from models.convoy.custody import census
from models.convoy.lifecycle import Stage
from models.convoy.store import assign_escort, get_convoy, upsert_escort
from models.convoy.tables import CheckIn, StageRun
from models.db import session_scope, utcnow
from models.tracking.devices import bind_device
from tests.conftest import ENTERPRISES
from tests.flows.service.serving import (
    Service,
    alive,
    convoy,
    flow_run_of,
    read_run,
    serve_env,
    stage_of,
    suspended_at,
    wait_for,
)
from tests.flows.service.test_sender import free_port

PREFECT = str(
    Path(shutil.which("prefect") or Path(__import__("sys").executable).parent / "prefect")
)


def _results(seats: range) -> list[dict[str, Any]]:
    nat = (utcnow() - timedelta(hours=8)).isoformat()
    return [
        {"seat": n, "temperature": 36.5, "nat_result": "negative", "nat_time": nat,
         "health_code": "green"}
        for n in seats
    ]  # fmt: skip


def _deployed(name: str) -> bool:
    from prefect.client.orchestration import get_client

    async def read() -> bool:
        async with get_client() as client:
            try:
                await client.read_deployment_by_name(name)
            except Exception:
                return False
            return True

    return asyncio.run(read())


def _artifacts(prefix: str) -> dict[str, str]:
    from prefect.client.orchestration import get_client

    async def read() -> dict[str, str]:
        async with get_client() as client:
            arts = await client.read_artifacts()
        return {a.key: str(a.data) for a in arts if a.key and a.key.startswith(prefix)}

    return asyncio.run(read())


def _runs_named(name: str) -> list[Any]:
    from prefect.client.orchestration import get_client

    async def read() -> list[Any]:
        async with get_client() as client:
            return [r for r in await client.read_flow_runs() if r.name == name]

    return asyncio.run(read())


@pytest.mark.timeout(2400)
def test_a_served_convoy_is_one_flow_run_driven_by_check_ins(
    make_convoy: Callable[..., str], settings: Settings, prefect_api: str, tmp_path: Path
) -> None:
    code = make_convoy("BUS-SV1", n=6)
    with session_scope() as s:
        escort = upsert_escort(s, "P8001", name="周警官")
        assign_escort(s, get_convoy(s, code), escort)
        _, token = bind_device(s, "tablet-sv1", "P8001", code)
    port = free_port()
    env = serve_env(settings, port, PREFECT_API_URL=prefect_api)
    service = Service(env, tmp_path / "serve.log", port, free_port())
    try:
        service.wait_ready()
        out = service.output()
        assert f"http api: http://127.0.0.1:{port}" in out and "Prefect UI: " in out
        assert "delay monitor:" in out and "convoy/convoy, permit/permit, campaign/campaign" in out
        wait_for(lambda: _deployed("convoy/convoy"), "the convoy deployment")

        # A coordinator triggers the convoy from the command line of Prefect itself.
        trigger = ("deployment", "run", "convoy/convoy", "--param", f"code={code}")
        started = convoy_prefect(env, *trigger)
        assert started.returncode == 0, started.stdout + started.stderr
        first = wait_for(lambda: suspended_at(code, Stage.PLANNED.value), "the muster wait")
        assert "muster" in (first.state.state_details.pause_key or "")

        # A second trigger attaches to the live run instead of starting another.
        again = convoy(env, "run", code)
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"already has flow run {first.name}" in again.stdout

        # Prefect's own trigger, a second time: that run starts, finds the live one, stops.
        twice = convoy_prefect(env, *trigger)
        assert twice.returncode == 0, twice.stdout + twice.stderr
        refused = wait_for(
            lambda: [r for r in _runs_named(f"convoy-{code}")
                     if r.id != first.id and r.state.is_final()],
            "the second run to stop",
        )  # fmt: skip
        assert (refused[0].state.type.value, refused[0].state.name) == ("CANCELLED", "Refused")
        assert "already has an active flow run" in (refused[0].state.message or "")
        assert flow_run_of(code).id == first.id and suspended_at(code, Stage.PLANNED.value)

        # CLI check-in: recorded, and the run resumes, continues, suspends at the screening.
        muster = convoy(env, "checkin", code, "muster", "--absent", "6")
        assert muster.returncode == 0 and "Resumed flow run" in muster.stdout, muster.stdout
        wait_for(lambda: suspended_at(code, Stage.VERIFIED.value), "the screening wait")

        # HTTP check-ins from the escort's tablet resume it too.
        api = f"http://127.0.0.1:{port}/api/checkins"
        headers = {"Authorization": f"Bearer {token}"}
        for kind, payload, stage in (
            ("screening", {"results": _results(range(1, 6))}, Stage.SCREENED),
            ("depart", {}, Stage.IN_TRANSIT),
        ):
            r = httpx.post(
                api, json={"kind": kind, "payload": payload}, headers=headers, timeout=30
            )
            assert r.status_code == 201, r.text
            wait_for(lambda stage=stage: suspended_at(code, stage.value), f"after {kind}")
        arrive = convoy(env, "checkin", code, "arrive")
        assert arrive.returncode == 0, arrive.stdout + arrive.stderr
        waiting = wait_for(lambda: suspended_at(code, Stage.ARRIVED.value), "after arrive")
        # The spot checks typed into the Prefect UI's resume form: the flow records them.
        from prefect.flow_runs import resume_flow_run

        resume_flow_run(waiting.id, run_input={"results": [], "location": "象山汽车站"})
        wait_for(lambda: suspended_at(code, Stage.ARRIVAL_SCREENED.value), "after the form")
        with session_scope() as s:
            given = s.execute(select(CheckIn).where(CheckIn.kind == "arrival_screening")).scalar()
            assert given is not None and given.source == "prefect"
            assert given.payload["location"] == "象山汽车站"
        handoff = ("handoff", "--enterprise", ENTERPRISES[0], "--received-by", "王经理")
        done = convoy(env, "checkin", code, *handoff)
        assert done.returncode == 0, done.stdout + done.stderr
        # The handoff step waits for the second enterprise (a new suspension), then closes.
        wait_for(lambda: (flow_run_of(code).state.state_details.pause_key or "").endswith("-1"),
                 "the second handoff wait")  # fmt: skip
        last = convoy(env, "checkin", code, "handoff", "--enterprise", ENTERPRISES[1],
                      "--received-by", "李主管")  # fmt: skip
        assert last.returncode == 0, last.stdout + last.stderr
        wait_for(lambda: stage_of(code) == Stage.CLOSED.value, "the convoy to close")
        run = wait_for(
            lambda: (r := read_run(first.id)).state.is_completed() and r, "the run to complete"
        )
        assert run.id == first.id and run.run_count == 1  # one flow run, its whole life
        with session_scope() as s:
            c = get_convoy(s, code)
            counts = census(s, c.id)
            assert counts.in_custody == 0 and counts.total == 6
            stages = s.execute(select(StageRun.flow_run_id)).scalars().all()
            assert len(stages) == 9 and set(stages) == {str(first.id)}
            assert s.execute(select(func.count()).select_from(CheckIn)).scalar_one() == 7

        # The map artifact links to the HTTP API, which serves it.
        link = _artifacts(f"convoy-{code.lower()}")[f"convoy-{code.lower()}-map"]
        # A signed link (a browser sends no token); without its signature: 401.
        found = re.search(rf"http://127\.0\.0\.1:{port}/files/maps/{code}\.html\?sig=[\w.]+", link)
        assert found, link
        page = httpx.get(found[0], timeout=30)
        assert page.status_code == 200 and code in page.text
        bare = httpx.get(f"http://127.0.0.1:{port}/files/maps/{code}.html", timeout=30)
        assert bare.status_code == 401

        pids = service.descendants()
        assert pids
    finally:
        code_ = service.interrupt()
    assert code_ == 0, service.output()
    assert "Stopping every part" in service.output()
    assert not alive(pids), f"left running after Ctrl-C: {alive(pids)}"


def convoy_prefect(env: dict[str, str], *args: str) -> Any:
    return subprocess.run([PREFECT, *args], env=env, capture_output=True, text=True, timeout=300)


def _running(code: str) -> bool:
    run = flow_run_of(code)
    return run is not None and run.state is not None and run.state.type.value == "RUNNING"


@pytest.mark.timeout(2400)
def test_kill_9_leaves_nothing_and_a_restart_finds_the_convoy(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    code = make_convoy("BUS-SV2", n=4)
    port, prefect_port = free_port(), free_port()
    env = serve_env(settings, port)
    env.pop("PREFECT_API_URL", None)  # convoy serve starts its own Prefect server
    api_url = f"http://127.0.0.1:{prefect_port}/api"
    cli = {**env, "PREFECT_API_URL": api_url}
    with temporary_settings({PREFECT_API_URL: api_url}):
        service = Service(env, tmp_path / "serve-1.log", port, prefect_port)
        service.wait_ready()
        assert f"prefect server: {api_url}" in service.output()
        started = convoy(cli, "run", code)
        assert started.returncode == 0 and "now has flow run" in started.stdout, started.stdout
        first = wait_for(lambda: suspended_at(code, Stage.PLANNED.value), "the muster wait")
        parts = service.descendants()
        assert len(parts) >= 5  # the Prefect server, the runner, the API, the monitor, the watchdog
        service.kill()
        wait_for(lambda: not alive(parts), "every part to end after kill -9", 60)

        # Reported while the service is down: kept; the run goes on once the service is back.
        muster = convoy(cli, "checkin", code, "muster")
        assert muster.returncode == 0 and "Recorded muster" in muster.stdout, muster.stderr
        service = Service(env, tmp_path / "serve-2.log", port, prefect_port)
        service.wait_ready()
        wait_for(lambda: suspended_at(code, Stage.VERIFIED.value), "the resume after restart")

        # Killed while the run is executing: it is left Running; the restart reschedules it.
        screening = convoy(cli, "checkin", code, "screening", "--result", "1:36.5")
        assert screening.returncode == 0 and "Resumed" in screening.stdout, screening.stdout
        wait_for(lambda: _running(code), "the run to be running", every=0.05)
        parts = service.descendants()
        service.kill()
        wait_for(lambda: not alive(parts), "every part to end after kill -9", 60)
        service = Service(env, tmp_path / "serve-3.log", port, prefect_port)
        try:
            service.wait_ready()
            wait_for(lambda: suspended_at(code, Stage.SCREENED.value), "the rescheduled run")
            run = flow_run_of(code)
            assert run.id == first.id  # still the convoy's one flow run
            logs = (settings.var_dir / "logs" / "deployments.log").read_text(errors="replace")
            assert "rescheduled" in logs and "resumed" in logs
            parts = service.descendants()
        finally:
            assert service.interrupt() == 0, service.output()
        assert not alive(parts), f"left running after Ctrl-C: {alive(parts)}"
        with session_scope() as s:
            assert s.execute(select(func.count()).select_from(CheckIn)).scalar_one() == 2
