"""``convoy serve``: one command for an operation.

It starts, as child processes in one process group:

1. a Prefect server on the embedded SQLite under ``var/prefect`` (unless ``PREFECT_API_URL``
   points at one already);
2. the runner serving the deployments (``flows.service.deployments``), which also finds the
   active runs again after a crash;
3. the HTTP API (``flows.api.tracker``): trackers, check-ins, maps and reports, the escorts'
   phone page and the coordinators' console;
4. the enterprises' registration form and their own pages (``flows.api.registration``) on the
   registration port (their links carry ``registration_base_url``);
5. exactly one delay monitor (``flows.service.monitor``; its lease refuses a second one).

It prints where each part listens. Ctrl-C (or SIGTERM) stops all of them; if one part stops on
its own, the others are stopped too. Nothing outlives the service: every part dies with it
(``PR_SET_PDEATHSIG``) and a watchdog in its own session ends the whole group, grandchildren
included, when the service's process is killed (``kill -9``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from config import Settings, get_settings
from models.errors import ConfigurationError

PR_SET_PDEATHSIG = 1
STOP_SECONDS = 15.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Part:
    """One child process of the service."""

    name: str
    argv: list[str]
    where: str = ""
    proc: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    log_path: Path | None = None
    stop_signal: int = signal.SIGTERM

    def last_line(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        return lines[-1].strip() if lines else ""


@dataclass
class Operation:
    """The running service: its parts, their process group and the watchdog."""

    settings: Settings
    env: dict[str, str]
    logs: Path
    parts: list[Part] = field(default_factory=list)
    group: int = 0
    watchdog: subprocess.Popen[bytes] | None = None

    def start(self, part: Part) -> Part:
        part.log_path = self.logs / f"{part.name.replace(' ', '-')}.log"
        part.log = part.log_path.open("ab")
        part.proc = subprocess.Popen(
            part.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=part.log,
            stderr=subprocess.STDOUT,
            process_group=self.group or 0,
            preexec_fn=_die_with_parent,
        )
        if not self.group:
            self.group = part.proc.pid
            self.watchdog = subprocess.Popen(
                [sys.executable, "-m", "flows.service.watchdog", str(os.getpid()), str(self.group)],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.parts.append(part)
        return part

    def stopped(self) -> Part | None:
        """A part that ended on its own, if any."""
        return next(
            (p for p in self.parts if p.proc is not None and p.proc.poll() is not None), None
        )

    def stop(self) -> None:
        """Stop every part (in reverse order), then whatever is left in the group."""
        from flows.service.watchdog import end_group, group_alive

        for part in reversed(self.parts):
            if part.proc is not None and part.proc.poll() is None:
                part.proc.send_signal(part.stop_signal)
        deadline = time.monotonic() + STOP_SECONDS
        for part in reversed(self.parts):
            if part.proc is None:
                continue
            try:
                part.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                part.proc.kill()
                part.proc.wait()
        if self.group and group_alive(self.group):
            end_group(self.group, grace=2.0)
        if self.watchdog is not None:
            try:
                self.watchdog.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.watchdog.kill()
        for part in self.parts:
            if part.log is not None:
                part.log.close()


def _wait_until(check: Callable[[], bool], part: Part, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if part.proc is not None and part.proc.poll() is not None:
            raise ConfigurationError(f"The {what} stopped while starting: {part.last_line()}")
        if time.monotonic() > deadline:
            raise ConfigurationError(f"The {what} did not start within {timeout:.0f} s.")
        time.sleep(0.2)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def serve_operation(
    host: str | None = None,
    port: int | None = None,
    prefect_port: int = 4200,
    say: Callable[[str], None] = print,
    settings: Settings | None = None,
    registration_port: int | None = None,
) -> int:
    """Run the whole service until interrupted; returns the exit code (0 after Ctrl-C)."""
    settings = settings or get_settings()
    host = host or settings.http_host
    port = port or settings.http_port
    prefect_home = Path(os.environ.get("PREFECT_HOME", settings.var_dir / "prefect")).resolve()
    logs = settings.var_dir.resolve() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    api_url = os.environ.get("PREFECT_API_URL", "")
    env = {
        **os.environ,
        "PREFECT_HOME": str(prefect_home),
        "CONVOY_VAR_DIR": str(settings.var_dir.resolve()),
        "CONVOY_HTTP_HOST": host,
        "CONVOY_HTTP_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    op = Operation(settings, env, logs)

    def on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not api_url:
            api_url = f"http://127.0.0.1:{prefect_port}/api"
            env["PREFECT_API_URL"] = api_url
            env.setdefault(
                "PREFECT_SERVER_DATABASE_CONNECTION_URL",
                f"sqlite+aiosqlite:///{prefect_home / 'server.db'}",
            )
            server = op.start(
                Part(
                    "prefect server",
                    [
                        sys.executable,
                        "-m",
                        "prefect",
                        "server",
                        "start",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(prefect_port),
                    ],
                    where=f"{api_url} (its SQLite under {prefect_home})",
                )
            )
            _wait_until(lambda: _answers(f"{api_url}/health"), server, "Prefect server", 300)
        else:
            env["PREFECT_API_URL"] = api_url
            if not _answers(f"{api_url}/health"):
                raise ConfigurationError(
                    f"The Prefect server at PREFECT_API_URL={api_url} does not answer; start it, "
                    "or unset PREFECT_API_URL to let convoy serve start its own."
                )
        runner = op.start(
            Part(
                "deployments",
                [sys.executable, "-m", "flows.service.deployments"],
                where="convoy/convoy, permit/permit, campaign/campaign",
                stop_signal=signal.SIGINT,  # Prefect's runner stops cleanly on SIGINT
            )
        )
        names = ("convoy/convoy", "permit/permit", "campaign/campaign")
        known = lambda: all(_answers(f"{api_url}/deployments/name/{n}") for n in names)  # noqa: E731
        _wait_until(known, runner, "deployments' runner", 300)
        base = f"http://{host}:{port}"
        api = op.start(
            Part(
                "http api",
                [sys.executable, "-m", "flows.api.tracker", "--host", host, "--port", str(port)],
                where=f"{base} (trackers {base}/osmand, check-ins {base}/api/checkins, "
                f"maps and reports {base}/files/, {base}/reports/, the console {base}/console/)",
            )
        )
        _wait_until(lambda: _answers(f"{base}/health"), api, "HTTP API", 60)
        reg_port = registration_port or settings.registration_port
        reg_base = f"http://{host}:{reg_port}"
        registration = op.start(
            Part(
                "registration",
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "flows.api.registration:create_app",
                    "--host",
                    host,
                    "--port",
                    str(reg_port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                where=f"{reg_base} (enterprises' forms /r/…, their pages /e/…; links carry "
                f"{settings.registration_base_url})",
            )
        )
        _wait_until(lambda: _answers(f"{reg_base}/healthz"), registration, "registration", 60)
        op.start(
            Part(
                "delay monitor",
                [sys.executable, "-m", "flows.service.monitor"],
                where=f"checks every {settings.monitor_interval_minutes:g} min, delivers every "
                f"{settings.outbox_poll_seconds:g} s",
            )
        )
        ui = api_url.removesuffix("/api")
        for part in op.parts:
            say(f"{part.name}: {part.where}")
        say(f"Prefect UI: {ui}")
        say(f"Logs: {logs}. Ctrl-C stops all of it.")
        while True:
            gone = op.stopped()
            if gone is not None:
                code = gone.proc.returncode if gone.proc else 1
                say(f"The {gone.name} stopped (exit {code}): {gone.last_line()}")
                say("Stopping the other parts.")
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("Stopping every part…")
        return 0
    finally:
        op.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
