"""Waiting for people: the one helper of every flow step that needs a person (the convoy's
check-ins, the permit officer's steps).

A step is a Prefect task that makes one *attempt* (a plain function doing the step in one
database transaction, or saying it still waits) and a flow that settles it:

* **From a deployment** (``convoy serve``, workers): a step still waiting suspends the flow run
  with ``suspend_flow_run(wait_for_input=<the step's input model>, timeout=<days>, key=…)`` and a
  readable reason. The run's process ends; nothing is held while people are busy. A check-in
  recorded from the CLI or the HTTP API resumes the run (``flows.service.live``), as does the
  Prefect UI's resume form, whose input the flow records itself. The resumed run starts again
  from the top: every step already done is skipped (the database says so) and it continues at
  the first step not done: one flow run for the convoy's whole life. Overdue waits are the delay
  monitor's business, not a failed flow: the suspension's timeout is long.
* **Embedded** (no deployment: the demo, the tests, ``convoy run`` without a server): the step
  waits in its own process, polling the database; with a time limit it gives up and says it is
  still waiting (the run then ends *Cancelled*, not *Completed*; run it again to resume).
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from prefect import Task, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from pydantic import BaseModel

from config import get_settings
from models.errors import ConvoyOpsError, RunBusyError

Attempt = Callable[[str], dict[str, Any]]  # one try at a step of ``subject``: {"status": …}

# A suspended step may wait this long for its person before Prefect fails the run: longer than
# any convoy or application takes (lateness is the monitor's business).
SUSPEND_TIMEOUT_SECONDS = 60 * 24 * 3600


def pause_key(*parts: object) -> str:
    """A Prefect pause key: lowercase letters, digits and dashes only."""
    text = "-".join(str(p) for p in parts).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "wait"


def from_deployment() -> bool:
    """Whether this flow run was started from a deployment (it can be suspended).

    Read from the run's context: ``prefect.runtime.deployment.id`` asks the API (a new
    client, TLS context included) every time for a run that has no deployment."""
    ctx = FlowRunContext.get()
    return ctx is not None and ctx.flow_run is not None and ctx.flow_run.deployment_id is not None


Probe = Callable[[str], object]  # a cheap read of what a waiting step could see change
# A waiting step with a probe is tried again when the probe's answer changes, and at least this
# often all the same (for what no probe sees, e.g. a rule file changed).
RETRY_ANYWAY_SECONDS = 5.0


_abandoned: dict[str, BaseException] = {}  # subject → why nobody will come (see ``abandon``)
_abandoned_lock = threading.Lock()


def abandon(subject: str, why: BaseException) -> None:
    """Whoever a waiting step of ``subject`` waits for has stopped (simulated escorts that
    failed, say): the step stops waiting and raises ``why``, in whatever thread it polls."""
    with _abandoned_lock:
        _abandoned[subject] = why
    wake(subject)


# A waiting step polls at its interval, and looks at once when told something may have
# changed (``wake``): the simulated escorts of a campaign say so after each report they
# record, so the flow goes on without waiting out its interval. Polling stays the rule (a
# check-in recorded by another process or a rule file changed wakes nobody).
_wakers: dict[str, threading.Event] = {}
_wakers_lock = threading.Lock()


def _waker(subject: str) -> threading.Event:
    with _wakers_lock:
        return _wakers.setdefault(subject, threading.Event())


def wake(subject: str) -> None:
    """Something a waiting step of ``subject`` may read has changed: it looks now."""
    _waker(subject).set()


def _pause(subject: str, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``subject`` is woken meanwhile (a wake that came while
    the step was busy is not lost: it ends the next pause at once)."""
    waker = _waker(subject)
    if waker.wait(seconds):
        waker.clear()


StepObserver = Callable[[str, str, dict[str, Any]], None]  # (subject, step name, result)
_step_observers: list[StepObserver] = []


@contextmanager
def observing_steps(observer: StepObserver) -> Iterator[None]:
    """Within the block, ``observer(subject, step, result)`` is called in the flow's thread
    each time a checklist step ends done (its transaction committed): simulated escorts
    waiting for a convoy's stage look again at once instead of at their next poll."""
    _step_observers.append(observer)
    try:
        yield
    finally:
        _step_observers.remove(observer)


def _step_done(subject: str, name: str, result: dict[str, Any]) -> None:
    for observer in list(_step_observers):
        observer(subject, name, result)


def forget_abandoned(subject: str) -> None:
    """Steps of ``subject`` may wait again (the simulated escorts that stopped are gone)."""
    with _abandoned_lock:
        _abandoned.pop(subject, None)


def _raise_if_abandoned(subject: str) -> None:
    why = _abandoned.get(subject)
    if why is not None:
        raise why


def poll(
    attempt: Attempt,
    subject: str,
    poll_seconds: float | None,
    max_wait: float | None,
    probe: Probe | None = None,
) -> dict[str, Any]:
    """Try the step; while it waits, poll until it is done. With a time limit, a step still
    waiting when it runs out is returned as it is (``status == "waiting"``).

    With a ``probe`` the polling is a read: the step (a write transaction, which on SQLite
    takes the database's one write lock) is tried again only once the probe's answer differs
    from the one read before the last try, or ``RETRY_ANYWAY_SECONDS`` after it. A subject
    given up on (``abandon``) raises the reason instead of waiting on."""
    every = poll_seconds if poll_seconds is not None else get_settings().checkin_poll_seconds
    started = time.monotonic()
    while True:
        seen = probe(subject) if probe is not None else None  # read before the try: no gap
        result = attempt(subject)
        if result["status"] != "waiting":
            return result
        tried = time.monotonic()
        while True:
            if max_wait is not None and time.monotonic() - started >= max_wait:
                return result
            _pause(subject, every)
            _raise_if_abandoned(subject)
            if (
                probe is None
                or time.monotonic() - tried >= RETRY_ANYWAY_SECONDS
                or probe(subject) != seen
            ):
                break


def step_task(
    name: str,
    attempt: Attempt,
    *,
    before: Callable[[str], None] | None = None,
    probe: Probe | None = None,
) -> Task[..., dict[str, Any]]:
    """The Prefect task of one checklist step: ``before`` (e.g. tell the escorts what comes
    next), then the attempt (embedded: until done or the time limit, tried again when
    ``probe`` sees a change; from a deployment: once, the flow suspends if it waits); logs what
    came of it."""

    def run(
        subject: str, poll_seconds: float | None = None, max_wait_seconds: float | None = None
    ) -> dict[str, Any]:
        if before is not None:
            before(subject)
        result = poll(attempt, subject, poll_seconds, max_wait_seconds, probe)
        if result["status"] != "waiting":
            _step_done(subject, name, result)
        get_run_logger().info("%s: %s %s", subject, name, result["status"])
        return result

    run.__name__ = run.__qualname__ = pause_key(name).replace("-", "_")
    # The database says what is done: a step's result is never cached, never persisted.
    return task(
        name=name,
        task_run_name=f"{name} [{{subject}}]",
        cache_policy=NO_CACHE,
        persist_result=False,
    )(run)


@dataclass(frozen=True)
class Need:
    """What a waiting step needs: the input model (the check-in payload), the readable reason
    shown on the run and in the resume form, and a pause key unique within the run."""

    model: type[BaseModel]
    reason: str
    key: str
    initial: dict[str, Any] = field(default_factory=dict)


def settle(
    step: Task[..., dict[str, Any]],
    subject: str,
    *,
    need: Callable[[dict[str, Any]], Need],
    take: Callable[[BaseModel], None],
    poll_seconds: float | None = None,
    max_wait_seconds: float | None = None,
) -> dict[str, Any]:
    """Run one checklist step to its end (see module doc). ``need`` says what a waiting step
    needs; ``take`` records an input given in the Prefect UI's resume form (a refused input is
    logged and the step waits again, under a new key)."""
    if not from_deployment():
        return step(subject, poll_seconds, max_wait_seconds)
    log = get_run_logger()
    for attempt in itertools.count():
        result = step(subject, None, 0)
        if result["status"] != "waiting":
            return result
        wanted = need(result)
        key = wanted.key if attempt == 0 else f"{wanted.key}-r{attempt}"
        given = suspend_for(wanted, key)  # suspends here (the process ends) unless given
        try:
            take(given)
        except ConvoyOpsError as exc:
            log.warning("%s: the input given on resume was refused: %s", subject, exc)
    raise AssertionError("unreachable")  # pragma: no cover


def suspend_for(wanted: Need, key: str) -> BaseModel:
    """Suspend the flow run until ``wanted.model`` is given (returns it when resumed)."""
    from prefect.flow_runs import suspend_flow_run
    from prefect.input.run_input import run_input_subclass_from_type

    get_run_logger().info("Suspended: %s", wanted.reason)
    model: Any = run_input_subclass_from_type(wanted.model)
    form = model.with_initial_data(description=wanted.reason, **wanted.initial)
    given: BaseModel = suspend_flow_run(
        wait_for_input=form, timeout=SUSPEND_TIMEOUT_SECONDS, key=key
    )
    return given


def plain(given: BaseModel, model: type[BaseModel]) -> dict[str, Any]:
    """The fields of an input given on resume, as the plain payload model has them."""
    return model.model_validate(given.model_dump(include=set(model.model_fields))).model_dump(
        mode="json"
    )


def run_here(
    flow_fn: Any, *args: Any, flow_run: Any = None, **kwargs: Any
) -> tuple[dict[str, Any], Any]:
    """Run a checklist flow in this process; returns its result and its final state (*Completed*,
    or *Cancelled* "Waiting" with the result so far). A run refused because another live run
    has the subject raises ``RunBusyError``; a failed run raises its error. ``flow_run``: a flow
    run created for it beforehand (``flows.service.runs_ahead``), else Prefect creates one."""
    if flow_run is None:
        state = flow_fn(*args, return_state=True, **kwargs)
    else:
        from prefect.flow_engine import run_flow
        from prefect.utilities.callables import get_call_parameters

        parameters = get_call_parameters(flow_fn.fn, args, kwargs)
        state = run_flow(flow_fn, flow_run=flow_run, parameters=parameters, return_type="state")
    data = state.result(raise_on_failure=False)
    if state.name == "Refused":
        raise RunBusyError(state.message or "Another flow run is active; this one stopped.")
    if isinstance(data, BaseException):
        raise data
    return data, state
