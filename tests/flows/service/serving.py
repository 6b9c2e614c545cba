"""Helpers of the tests that run a real ``convoy serve``: start it, find its processes, wait for
a convoy's flow run to reach a state, run the ``convoy`` command as its own process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from config import Settings
from models.convoy.runs import current_run
from models.db import session_scope
from tests.conftest import child_env

ROOT = Path(__file__).resolve().parents[3]
CONVOY = [sys.executable, "-m", "flows.cli.main"]
WAIT = 420.0  # a resume on a busy 2-core machine: the runner's poll, a new process, the steps


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def convoy(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CONVOY, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


class Service:
    """A ``convoy serve`` process and what it printed."""

    def __init__(self, env: dict[str, str], log: Path, port: int, prefect_port: int) -> None:
        self.env, self.log_path, self.port = env, log, port
        self.log = log.open("w")
        from tests.flows.service.test_sender import free_port

        self.registration_port = free_port()
        self.proc = subprocess.Popen(
            [
                *CONVOY,
                "serve",
                "--port",
                str(port),
                "--prefect-port",
                str(prefect_port),
                "--registration-port",
                str(self.registration_port),
            ],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # like a shell job: its own group, as a terminal gives it
        )
        self.base = f"http://127.0.0.1:{port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = WAIT) -> None:
        def ready() -> bool:
            assert self.proc.poll() is None, self.output()
            return "Ctrl-C stops all of it" in self.output()

        wait_for(ready, "convoy serve to start", timeout)

    def descendants(self) -> set[int]:
        """Every process started by the service (its parts, their children, the watchdog)."""
        return processes_below(self.proc.pid) | self.parts_group()

    def parts_group(self) -> set[int]:
        out = subprocess.run(
            ["ps", "-eo", "pid=,pgid=,ppid=,args="], capture_output=True, text=True
        )
        rows = [line.split(None, 3) for line in out.stdout.splitlines()]
        kids = {int(r[0]) for r in rows if len(r) > 2 and int(r[2]) == self.proc.pid}
        groups = {int(r[1]) for r in rows if int(r[0]) in kids}
        return {int(r[0]) for r in rows if int(r[1]) in groups - {self.proc.pid}} | kids

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=120)
        self.log.close()
        return code

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.log.close()


def processes_below(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True)
    children: dict[int, set[int]] = {}
    for line in out.stdout.splitlines():
        p, pp = map(int, line.split())
        children.setdefault(pp, set()).add(p)
    found: set[int] = set()
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), set()):
            if c not in found:
                found.add(c)
                todo.append(c)
    return found


def alive(pids: set[int]) -> set[int]:
    out: set[int] = set()
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        # a zombie (not yet reaped by its parent) is no longer running
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().split(") ", 1)[-1][:1] == "Z":
            continue
        out.add(pid)
    return out


def serve_env(settings: Settings, port: int, **extra: str) -> dict[str, str]:
    env = child_env(settings, CONVOY_HTTP_PORT=str(port), **extra)
    env["PYTHONPATH"] = str(ROOT)
    return env


def flow_run_of(code: str) -> Any | None:
    """The convoy's flow run (the one holding it) as Prefect has it."""
    with session_scope() as s:
        holder = current_run(s, f"convoy:{code}")
    return None if holder is None else read_run(holder.flow_run_id)


def read_run(run_id: Any) -> Any:
    """A flow run, through this process's Prefect settings."""
    from prefect.client.orchestration import get_client

    async def read() -> Any:
        async with get_client() as client:
            return await client.read_flow_run(UUID(str(run_id)))

    return asyncio.run(read())


def stage_of(code: str) -> str:
    from models.convoy.store import get_convoy

    with session_scope() as s:
        return get_convoy(s, code).stage


def suspended_at(code: str, stage: str) -> Any:
    """Once the convoy is at ``stage`` and its run suspended: the run (else None)."""
    if stage_of(code) != stage:
        return None
    run = flow_run_of(code)
    return run if run is not None and run.state is not None and run.state.is_paused() else None
