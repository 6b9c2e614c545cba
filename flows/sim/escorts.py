"""Running convoy flows with simulated escorts beside them (demo, tests, rehearsals)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

from flows.service.waits import abandon, forget_abandoned, observing_steps, wake
from flows.sim.simulator import ConvoySimulator, Report
from models.access.actors import acting_as, service
from models.convoy.checkins import Kind

if TYPE_CHECKING:
    from flows.sim.escort_process import EscortProcess

log = logging.getLogger(__name__)


@contextmanager
def simulated_escorts(
    codes: Sequence[str], speed: float = 0.0, campaign: bool = False
) -> Iterator[list[ConvoySimulator]]:
    """Start one simulator thread per convoy; stop them (and re-raise their errors) on exit.

    A simulator that fails gives its convoy up (``flows.service.waits.abandon``): the flow it
    plays beside, waiting for reports that will not come in whatever thread it runs, stops
    with the simulator's error; the block raises it. A campaign's escorts play in the escorts'
    process when one runs (``flows.sim.escort_process``; the block then yields no simulator)."""
    from flows.sim import escort_process

    if campaign:  # a simulated campaign loads its manifests beside its flows: this one's first
        from flows.sim.campaign_run import wait_loaded

        for code in codes:
            wait_loaded(code)
    process = escort_process.current() if campaign else None
    if process is not None:
        with _in_process(process, codes, speed):
            yield []
        return
    if campaign:  # the escorts of a simulated campaign: its incidents and delay checks
        from flows.sim.campaign_run import CampaignEscorts

        sims: list[ConvoySimulator] = [CampaignEscorts(code, speed=speed) for code in codes]
    else:
        sims = [ConvoySimulator(code, speed=speed) for code in codes]
    by_code = {sim.code: sim for sim in sims}
    for sim in sims:  # the flow and its escorts tell each other at once when something moved
        sim.on_reported = partial(_reported, sim.code)
        sim.nudged = True
    errors: list[BaseException] = []

    def play(sim: ConvoySimulator) -> None:
        try:
            with acting_as(service(f"simulated escorts of {sim.code}"), "flow"):
                sim.play()
        except BaseException as exc:  # reported to the caller below, and logged now: the flow
            errors.append(exc)  # it plays beside may be waiting for the report that failed
            log.error("The simulated escorts of %s stopped: %s", sim.code, exc)
            sim.stop()
            abandon(sim.code, exc)

    def step_done(subject: str, step: str, result: dict[str, Any]) -> None:
        if subject in by_code:
            by_code[subject].nudge()

    threads = [threading.Thread(target=play, args=(s,), daemon=True) for s in sims]
    for t in threads:
        t.start()
    try:
        with observing_steps(step_done):
            yield sims
    finally:
        for s in sims:
            s.stop()
        for t in threads:
            t.join(timeout=30)
        for s in sims:
            forget_abandoned(s.code)
    if errors:
        raise errors[0]


def _reported(code: str, report: Report) -> None:
    """A report of ``code``'s escorts is recorded: the flow's waiting step looks now (a
    position is read by no step)."""
    if report.kind is not Kind.POSITION:
        wake(code)


@contextmanager
def _in_process(process: EscortProcess, codes: Sequence[str], speed: float) -> Iterator[None]:
    from flows.sim.campaign_run import INCIDENTS

    wanted = set(codes)

    def step_done(subject: str, step: str, result: dict[str, Any]) -> None:
        if subject in wanted:
            process.nudge(subject)

    for code in codes:
        process.start(code, speed, INCIDENTS.get(code, ""))
    try:
        with observing_steps(step_done):
            yield
    finally:
        stopped = [process.finish(code) for code in codes]
        for code in codes:
            forget_abandoned(code)
    errors = [e for e in stopped if e is not None]
    if errors:
        raise errors[0]
