"""The simulated escorts of a campaign, played in a process of their own.

Real escorts report from their own phones; a simulated campaign's escorts (tens of convoys,
thousands of reports) would otherwise share one Python process, and so one core, with the convoy
flows they play beside. ``EscortProcess`` starts ``python -m flows.sim.escort_process`` once (on
the database and var folder of this process; the rest of the settings from the environment, as
here) and tells it, one JSON line each on its standard input, which convoy to play (``{"play":
code, "speed": s, "incident": i}``), when the convoy's flow has done a step (``{"nudge":
code}``: escorts waiting for a stage look at once) and when to stop (``{"stop": code}``); it
answers on its standard output ``{"reported": code}`` after each report recorded that a step
reads (the flow's waiting step looks at once: ``flows.service.waits.wake``) and ``{"done": code,
"error": …, "kind": …}`` once a convoy's escorts have stopped, with the error they stopped on,
if any. Both sides still poll, less often, for what nobody tells. An error gives the convoy up
(``flows.service.waits.abandon``), as a failed simulator thread does: the flow waiting for its
reports stops with it. The process ends when its standard input closes (this process ended); it
has a process group of its own, so Ctrl-C on the terminal reaches the campaign's process only,
which decides.

Nothing in the escorts' process imports Prefect: it starts in about half a second.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import partial
from typing import IO, Any

from config import Settings, get_settings
from config.errors import ConvoyOpsError
from models import errors

log = logging.getLogger(__name__)

# How long a convoy's escorts may take to stop once told to (they wait on an event; a report
# being written finishes first).
STOP_SECONDS = 60.0


def _error(kind: str, message: str) -> BaseException:
    """The error the escorts stopped on, as this process's own class when it is one of ours."""
    cls = getattr(errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, ConvoyOpsError):
        try:
            return cls(message)
        except TypeError:  # a class that needs more than its message
            pass
    return ConvoyOpsError(f"The simulated escorts stopped: {kind}: {message}")


class EscortProcess:
    """The escorts' process, seen from the campaign's (see the module doc)."""

    def __init__(self, settings: Settings | None = None) -> None:
        settings = settings or get_settings()
        env = dict(os.environ)
        env["CONVOY_VAR_DIR"] = str(settings.var_dir)
        env["CONVOY_DATABASE_URL"] = settings.db_url
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "flows.sim.escort_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            encoding="utf-8",
            # Ctrl-C on the terminal is for the campaign's process, which decides (its end
            # closes our standard input, and every convoy stops): another process group.
            start_new_session=True,
        )
        self._lock = threading.Lock()
        self._playing: dict[str, threading.Event] = {}
        self._errors: dict[str, BaseException] = {}
        self._listener = threading.Thread(target=self._listen, name="escorts-listener", daemon=True)
        self._listener.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _send(self, order: dict[str, Any]) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        with self._lock:
            stdin.write(json.dumps(order, ensure_ascii=False) + "\n")
            stdin.flush()

    def start(self, code: str, speed: float = 0.0, incident: str = "") -> None:
        """Play the escorts of ``code`` (the campaign's incident ``incident``, if any)."""
        with self._lock:
            self._playing[code] = threading.Event()
            self._errors.pop(code, None)
        try:
            self._send({"play": code, "speed": speed, "incident": incident})
        except OSError:
            self._gone()

    def nudge(self, code: str) -> None:
        """The flow of ``code`` has done a step: its escorts waiting for a stage look now."""
        if code in self._playing:
            with suppress(OSError):  # a process gone is found by its listener
                self._send({"nudge": code})

    def finish(self, code: str) -> BaseException | None:
        """Stop the escorts of ``code``; the error they stopped on, if any."""
        done = self._playing.get(code)
        if done is None:
            return None
        try:
            self._send({"stop": code})
        except OSError:
            self._gone()
        if not done.wait(STOP_SECONDS):
            return ConvoyOpsError(
                f"The simulated escorts of {code} did not stop within {STOP_SECONDS:.0f} s."
            )
        with self._lock:
            self._playing.pop(code, None)
            return self._errors.pop(code, None)

    def close(self) -> None:
        """End the process (its escorts stop) and wait for it."""
        if self._proc.stdin is not None:
            with suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._listener.join(STOP_SECONDS)

    def _listen(self) -> None:
        from flows.service.waits import wake

        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            if "reported" in answer:
                wake(str(answer["reported"]))
            elif "done" in answer:
                self._done(str(answer["done"]), answer.get("kind"), answer.get("error"))
        self._gone()

    def _done(self, code: str, kind: str | None, message: str | None) -> None:
        from flows.service.waits import abandon

        with self._lock:
            event = self._playing.get(code)
            if event is None or event.is_set():
                return
            if kind is not None:
                why = _error(kind, message or "")
                self._errors[code] = why
                log.error("The simulated escorts of %s stopped: %s", code, why)
                abandon(code, why)
            event.set()

    def _gone(self) -> None:
        """The process has ended: every convoy still played is given up."""
        try:  # its output has ended: so has the process, or it is about to
            code: int | None = self._proc.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        message = f"The simulated escorts' process ended (exit status {code})."
        for name in list(self._playing):
            self._done(name, "ConvoyOpsError", message)


_current: EscortProcess | None = None


def current() -> EscortProcess | None:
    """The escorts' process of the campaign simulated in this process, if one runs."""
    return _current


@contextmanager
def escorts_in_own_process(settings: Settings | None = None) -> Iterator[EscortProcess]:
    """Within the block, a campaign's simulated escorts (``flows.sim.escorts``) are played in
    one process of their own instead of threads of this one."""
    global _current
    proc = EscortProcess(settings)
    previous, _current = _current, proc
    try:
        yield proc
    finally:
        _current = previous
        proc.close()


# -- the escorts' process itself ------------------------------------------------------------


def _serve(orders: IO[str], answers: IO[str]) -> None:
    """Play convoys as ordered until the orders end; then stop every one and return."""
    from flows.sim.campaign_run import CampaignEscorts
    from flows.sim.simulator import Report
    from models.access.actors import acting_as, service
    from models.convoy.checkins import Kind

    sims: dict[str, CampaignEscorts] = {}
    threads: list[threading.Thread] = []
    lock = threading.Lock()

    def answer(message: dict[str, Any]) -> None:
        with lock:
            answers.write(json.dumps(message, ensure_ascii=False) + "\n")
            answers.flush()

    def reported(code: str, report: Report) -> None:
        if report.kind is not Kind.POSITION:  # a position is read by no step
            answer({"reported": code})

    def play(sim: CampaignEscorts) -> None:
        try:
            with acting_as(service(f"simulated escorts of {sim.code}"), "flow"):
                sim.play()
        except BaseException as exc:  # told to the campaign's process, which gives the convoy up
            answer({"done": sim.code, "kind": type(exc).__name__, "error": str(exc)})
            return
        answer({"done": sim.code})

    for line in orders:
        order = json.loads(line)
        if "play" in order:
            code = str(order["play"])
            sim = CampaignEscorts(
                code,
                speed=float(order.get("speed") or 0.0),
                incident=str(order.get("incident") or ""),
            )
            sim.on_reported = partial(reported, code)
            sim.nudged = True
            sims[code] = sim
            thread = threading.Thread(target=play, args=(sim,), name=f"escorts-{code}")
            threads.append(thread)
            thread.start()
        elif "nudge" in order and str(order["nudge"]) in sims:
            sims[str(order["nudge"])].nudge()
        elif "stop" in order and str(order["stop"]) in sims:
            sims[str(order["stop"])].stop()
    for sim in sims.values():
        sim.stop()
    for thread in threads:
        thread.join(STOP_SECONDS)


def main() -> None:
    # An interrupt sent here all the same: the campaign's process decides, as for Ctrl-C.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The answers get standard output to themselves: anything else printed goes to stderr.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    from flows.service.runtime import batch_collection

    try:
        with batch_collection():
            _serve(sys.stdin, answers)
    except Exception as exc:  # one line; the campaign's process gives its convoys up
        print(f"The simulated escorts' process stopped: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
