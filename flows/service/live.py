"""Live operations against a Prefect server: which run is a convoy's (or an application's),
starting or attaching to it, resuming it when its person has reported, and finding every active
one again after a crash.

* ``claim`` / ``beat`` / ``release``: the flow run's hold on its subject
  (``models.convoy.runs``); a run is *live* while Prefect has it scheduled, pending or suspended,
  or running in a process that still exists.
* ``start_run``: a coordinator's trigger (``convoy run``, the campaign flow, the HTTP API). A live
  run is attached to, never doubled; otherwise one deployment run is created, with an idempotency
  key so that two triggers at once get the same run.
* ``resume``: after a check-in (CLI, HTTP) or an officer's step, the subject's suspended run is
  resumed with that input.
* ``reconcile``: at ``convoy serve``'s start and then every minute: a run left *Running* with
  nothing behind it is rescheduled (the same run continues), a suspended run whose input is
  already recorded is resumed.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from config import get_settings
from models.convoy.runs import RunHolder, claim_run, current_run, held_subjects, release_run
from models.convoy.runs import beat as beat_run
from models.db import session_scope, utcnow

log = logging.getLogger("convoy.live")

DEPLOYMENTS = {
    "convoy": "convoy/convoy",
    "permit": "permit/permit",
    "campaign": "campaign/campaign",
}
# A run's process says it is alive at least this often while it works (a run on another machine
# not heard of for longer is taken for dead).
BEAT_SECONDS = 30.0
STALE_AFTER = timedelta(minutes=10)
START_GRACE = timedelta(minutes=2)  # a restarted run's new process claims its subject by then
_LIVE_TYPES = {"SCHEDULED", "PENDING", "PAUSED", "CANCELLING"}

_last_beat: dict[str, float] = {}
_beat_lock = threading.Lock()


def server_url() -> str:
    """The Prefect API this process talks to ('' when none is configured: embedded)."""
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value() or "")


def _client() -> Any:
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def flow_run(run_id: str) -> Any | None:
    """The flow run, or None if this server does not know it (or cannot be reached)."""
    try:
        with _client() as client:
            return client.read_flow_run(UUID(run_id))
    except Exception:  # unknown run, another server's, server down: not ours to judge
        return None


def is_live(holder: RunHolder) -> bool:
    """Whether the run holding a subject may still act on it (see module doc)."""
    run = flow_run(holder.flow_run_id)
    state = getattr(run, "state", None)
    if state is None:
        return holder.here and holder.process_alive()
    if state.is_final():
        return False
    if state.type.value in _LIVE_TYPES:
        return True
    if _just_started(state, holder):
        return True
    if holder.here:
        return holder.process_alive()
    return utcnow() - holder.heartbeat_at < STALE_AFTER


def _just_started(state: Any, holder: RunHolder) -> bool:
    """A run the runner has just started again (after a resume) whose new process has not yet
    claimed its subject: the holder is still its predecessor's, from before this state. It is
    given ``START_GRACE`` to claim before it counts as left with nothing behind it."""
    started = getattr(state, "timestamp", None)
    if started is None or started.tzinfo is None:
        return False
    return started > holder.heartbeat_at and utcnow() - started < START_GRACE


def _subject(kind: str, subject: str) -> str:
    return f"{kind}:{subject}"


def _label(kind: str, subject: str) -> str:
    return f"{'Convoy' if kind == 'convoy' else 'Application'} {subject}"


def claim(kind: str, subject: str) -> None:
    """The running flow run takes its subject (``RunBusyError`` if another live run has it)."""
    from prefect import runtime

    run_id = str(runtime.flow_run.id or "")
    with session_scope() as session:
        claim_run(
            session, _subject(kind, subject), run_id, utcnow(), is_live, what=_label(kind, subject)
        )
    with _beat_lock:
        _last_beat[_subject(kind, subject)] = time.monotonic()


def beat(kind: str, subject: str, run_id: str) -> None:
    """Say the run is alive (at most every ``BEAT_SECONDS``)."""
    key = _subject(kind, subject)
    with _beat_lock:
        if time.monotonic() - _last_beat.get(key, 0.0) < BEAT_SECONDS:
            return
        _last_beat[key] = time.monotonic()
    with session_scope() as session:
        beat_run(session, key, run_id, utcnow())


def release(kind: str, subject: str) -> None:
    """The run is done with its subject (closed convoy, delivered or rejected application)."""
    from prefect import runtime

    with session_scope() as session:
        release_run(session, _subject(kind, subject), str(runtime.flow_run.id or ""))


def file_link(path: Path) -> str:
    """Where people open an output file: through the HTTP API when the flow runs from a
    deployment (``convoy serve``), else the file itself."""
    from flows.service.waits import from_deployment

    settings = get_settings()
    if from_deployment():
        try:
            rel = path.resolve().relative_to(settings.output_dir.resolve())
        except ValueError:
            return path.resolve().as_uri()
        from flows.api.files import signed_file_url

        return signed_file_url(rel.as_posix(), settings)
    return path.resolve().as_uri()


def public_url() -> str:
    """The HTTP API's address as people reach it."""
    return get_settings().api_url()


# --- starting and attaching -------------------------------------------------------------------


def deployment_served(kind: str) -> bool:
    """Whether a Prefect server is configured and knows the deployment of ``kind``."""
    if not server_url():
        return False
    try:
        with _client() as client:
            client.read_deployment_by_name(DEPLOYMENTS[kind])
    except Exception:
        return False
    return True


def live_holder(kind: str, subject: str) -> str | None:
    """The id of the subject's live flow run, if it has one."""
    with session_scope() as session:
        holder = current_run(session, _subject(kind, subject))
    return holder.flow_run_id if holder is not None and is_live(holder) else None


def ui_url(flow_run_id: str) -> str:
    """The flow run's page in the Prefect UI."""
    from prefect.settings import PREFECT_UI_URL

    base = str(PREFECT_UI_URL.value() or server_url().removesuffix("/api"))
    return f"{base.rstrip('/')}/runs/flow-run/{flow_run_id}"


@dataclass(frozen=True)
class RunInfo:
    """A subject's flow run as a trigger found or made it."""

    flow_run_id: str
    name: str
    state: str
    attached: bool  # an existing live run (True) or a new or rescheduled one

    def line(self, label: str) -> str:
        what = "already has" if self.attached else "now has"
        return f"{label} {what} flow run {self.name} ({self.state}, id {self.flow_run_id})."


def _info(run: Any, attached: bool) -> RunInfo:
    state = run.state.name if run.state else "Scheduled"
    return RunInfo(str(run.id), run.name, state, attached)


def start_run(kind: str, subject: str, parameters: dict[str, Any], tags: list[str]) -> RunInfo:
    """Attach to the subject's live run, reschedule its run left running with nothing behind it,
    or create one deployment run (two triggers at once get the same one)."""
    from prefect.deployments import run_deployment

    with session_scope() as session:
        holder = current_run(session, _subject(kind, subject))
    if holder is not None:
        run = flow_run(holder.flow_run_id)
        if run is not None and is_live(holder):
            return _info(run, attached=True)
        if run is not None and run.deployment_id and run.state and not run.state.is_final():
            return _info(revive(run), attached=False)
    key = f"{kind}:{subject}:{holder.flow_run_id if holder else 'first'}"
    run = run_deployment(
        DEPLOYMENTS[kind],
        parameters=parameters,
        timeout=0,
        as_subflow=False,
        tags=[f"{kind}:{subject}", *tags],
        idempotency_key=key,
    )
    return _info(run, attached=False)


def revive(run: Any) -> Any:
    """Reschedule a run whose process is gone: the same run starts again from the top."""
    from prefect.states import Scheduled

    with _client() as client:
        client.set_flow_run_state(run.id, Scheduled(), force=True)
        return client.read_flow_run(run.id)


# --- resuming ---------------------------------------------------------------------------------


def _suspended(kind: str, subject: str) -> Any | None:
    with session_scope() as session:
        holder = current_run(session, _subject(kind, subject))
    if holder is None:
        return None
    run = flow_run(holder.flow_run_id)
    if run is None or run.state is None or not run.state.is_paused():
        return None
    return run


def resume(kind: str, subject: str, run_input: Callable[[Any], dict[str, Any] | None]) -> str:
    """Resume the subject's suspended run if ``run_input`` (given the run's pause key) says its
    input is there; returns a line saying so ('' when there was nothing to resume)."""
    from prefect.flow_runs import resume_flow_run

    if not server_url():
        return ""
    run = _suspended(kind, subject)
    if run is None:
        return ""
    given = run_input(run.state.state_details.pause_key or "")
    if given is None:
        return ""
    try:
        resume_flow_run(run.id, run_input=given)
    except Exception as exc:  # recorded anyway; convoy serve resumes it on its next round
        log.warning("%s: flow run %s not resumed: %s", subject, run.name, exc)
        return f"Flow run {run.name} could not be resumed now ({exc}); convoy serve will."
    return f"Resumed flow run {run.name}."


def seen_in_key(key: str) -> int:
    """How many check-ins of its kind there were when a step suspended (its pause key ends with
    that count, then maybe a retry suffix ``-rN``)."""
    m = re.search(r"-(\d+)(?:-r\d+)?$", key)
    return int(m[1]) if m else 0


# --- after a crash ----------------------------------------------------------------------------


def reconcile(inputs: dict[str, Callable[[str, str], dict[str, Any] | None]]) -> list[str]:
    """Find every active convoy and application run again (see module doc); returns what was
    done, one line each. ``inputs[kind](subject, pause_key)`` gives the run input of a suspended
    run whose person already reported (None: still waiting)."""
    from prefect.flow_runs import resume_flow_run

    done: list[str] = []
    for kind, input_for in inputs.items():
        with session_scope() as session:
            held = held_subjects(session, f"{kind}:")
        for key, holder in sorted(held.items()):
            subject = key.split(":", 1)[1]
            run = flow_run(holder.flow_run_id)
            if run is None or run.deployment_id is None or run.state is None:
                continue  # an embedded run, or another server's
            state = run.state
            if state.type.value in ("RUNNING", "PENDING") and not is_live(holder):
                revive(run)
                done.append(f"{_label(kind, subject)}: flow run {run.name} rescheduled.")
            elif state.is_paused():
                given = input_for(subject, state.state_details.pause_key or "")
                if given is not None:
                    try:
                        resume_flow_run(run.id, run_input=given)
                    except Exception as exc:
                        log.warning("%s: flow run %s not resumed: %s", subject, run.name, exc)
                        continue
                    done.append(f"{_label(kind, subject)}: flow run {run.name} resumed.")
    return done


# --- what a suspended run is given ------------------------------------------------------------


def convoy_input(code: str, key: str) -> dict[str, Any] | None:
    """The check-in a suspended convoy run waits for, if one came since it suspended."""
    from models.convoy.checkins import PAYLOADS, Kind, all_of
    from models.convoy.store import get_convoy
    from models.views.reports import convoy_status

    with session_scope() as session:
        waits = convoy_status(session, code)["waiting_for"]
        if not waits:
            return None
        kind = Kind(waits)
        rows = all_of(session, get_convoy(session, code), kind)
    if len(rows) <= seen_in_key(key):
        return None
    fields = PAYLOADS[kind].model_fields
    return {k: v for k, v in rows[-1].payload.items() if k in fields}


def permit_input(number: str, key: str) -> dict[str, Any] | None:
    """A suspended permit run's step, once the officer has recorded it (its input is then
    already applied: the run is given the defaults)."""
    from models.permits.lifecycle import step_state
    from models.permits.queries import get_application

    step = key.split("-", 1)[0]
    with session_scope() as session:
        state = step_state(get_application(session, number), step)
    return None if state == "waiting" else {}


INPUTS: dict[str, Callable[[str, str], dict[str, Any] | None]] = {
    "convoy": convoy_input,
    "permit": permit_input,
}


def resume_after(kind: str, subject: str) -> str:
    """After a check-in or an officer's step: resume the subject's run if it waited for it."""
    return resume(kind, subject, lambda key: INPUTS[kind](subject, key))


def resume_quietly(kind: str, subject: str) -> None:
    """``resume_after`` for an HTTP handler that has already answered: the check-in or step is
    stored, so a run that cannot be resumed now is only logged (``convoy serve`` finds it on its
    next round)."""
    try:
        line = resume_after(kind, subject)
    except Exception as exc:
        log.warning("%s: flow run not resumed after a check-in or step: %s", subject, exc)
        return
    if line:
        log.info("%s: %s", subject, line)
