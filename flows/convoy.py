"""The convoy flow: one Prefect flow run per charter train, flight or bus.

It reads like the escort team's checklist. Each step is a task that calls one plain function
(``models.convoy.operations.advance``) in its own database transaction; the steps that need people
wait for the escorts' check-ins. Run it again after a crash and it resumes at the first step
not yet done.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from prefect import Task, flow, get_run_logger, runtime, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from config import get_settings
from flows.cli.maps import save_convoy_map
from models.convoy.lifecycle import Stage
from models.convoy.operations import StageResult, advance
from models.convoy.store import get_convoy
from models.db import session_scope
from models.intake.verification import summary_table as verification_summary
from models.views.reports import convoy_summary, summary_markdown


def wait_for_step(
    code: str, stage: Stage, poll_seconds: float | None, max_wait_seconds: float | None
) -> dict[str, Any]:
    """Try the step; while it waits for a check-in, poll until it comes. With a time limit, a
    step still waiting when it runs out returns ``status == "waiting"``."""
    settings = get_settings()
    poll = poll_seconds if poll_seconds is not None else settings.checkin_poll_seconds
    started = time.monotonic()
    flow_run_id = str(runtime.flow_run.id or "")
    while True:
        with session_scope() as session:
            result: StageResult = advance(session, code, stage, flow_run_id=flow_run_id)
        if result.status != "waiting":
            return {"stage": stage.value, "status": result.status, "summary": result.summary}
        if max_wait_seconds is not None and time.monotonic() - started >= max_wait_seconds:
            return {"stage": stage.value, "status": "waiting", "waiting_for": result.waiting_for,
                    "summary": result.summary}  # fmt: skip
        time.sleep(poll)


def notify_escorts_before(code: str, stage: Stage) -> None:
    """Queue the escorts' task for ``stage`` (and enterprise notices) in the outbox, e.g. the
    passengers still lacking an entry application once under way. Idempotent; a failure to
    queue is logged and never stops the convoy."""
    from flows.service.sender import queue_task_notices
    from models.convoy.lifecycle import STAGES
    from models.errors import ConvoyOpsError

    try:
        queue_task_notices(code, STAGES[STAGES.index(stage) - 1])
    except ConvoyOpsError as exc:
        get_run_logger().warning("%s: escort notices not queued: %s", code, exc)


def run_step(
    code: str, stage: Stage, poll_seconds: float | None, max_wait_seconds: float | None
) -> dict[str, Any]:
    """Tell the escorts what comes next, then perform the step (waiting for its check-in)."""
    notify_escorts_before(code, stage)
    result = wait_for_step(code, stage, poll_seconds, max_wait_seconds)
    get_run_logger().info("%s: %s %s", code, stage.value, result["status"])
    return result


def _step(stage: Stage, name: str) -> Task[..., dict[str, Any]]:
    @task(name=name, task_run_name=f"{name} [{{code}}]")
    def step(
        code: str, poll_seconds: float | None = None, max_wait_seconds: float | None = None
    ) -> dict[str, Any]:
        return run_step(code, stage, poll_seconds, max_wait_seconds)

    return step


muster_at_origin = _step(Stage.MUSTERING, "muster at origin")


@task(name="pre-verify identities", task_run_name="pre-verify identities [{code}]")
def pre_verify_identities(
    code: str, poll_seconds: float | None = None, max_wait_seconds: float | None = None
) -> dict[str, Any]:
    """Batch pre-verification against the registry lists, then a masked summary table
    (outcomes and categories with seats and masked ID numbers) on the flow run."""
    result = run_step(code, Stage.VERIFIED, poll_seconds, max_wait_seconds)
    if result["status"] != "waiting":
        with session_scope() as session:
            rows = verification_summary(session, get_convoy(session, code).id or 0)
        create_table_artifact(
            key=artifact_key(f"preverify-{code}"),
            table=rows or [{"outcome": "nobody to verify", "category": "", "passengers": 0}],
            description=f"Pre-verification of convoy {code} (ID numbers and names masked).",
        )
    return result


screen_before_departure = _step(Stage.SCREENED, "screen before departure")
depart = _step(Stage.DEPARTED, "depart")
travel_and_follow_up_entry = _step(Stage.IN_TRANSIT, "travel and follow up entry applications")
arrive = _step(Stage.ARRIVED, "arrive")
spot_check_on_arrival = _step(Stage.ARRIVAL_SCREENED, "spot-check on arrival")
hand_off_to_employers = _step(Stage.HANDED_OFF, "hand off to employers")
close_convoy = _step(Stage.CLOSED, "close convoy")


def artifact_key(text: str) -> str:
    """Prefect artifact keys: lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "convoy"


@task(name="publish map and summary", retries=2, retry_delay_seconds=[1, 5])
def publish(code: str) -> dict[str, Any]:
    """Write the route map and attach the summary (masked: counts only) to the flow run."""
    with session_scope() as session:
        summary = convoy_summary(session, code)
    map_path = save_convoy_map(code)
    key = artifact_key(f"convoy-{code}")
    create_link_artifact(
        key=f"{key}-map", link=Path(map_path).resolve().as_uri(), link_text=f"Route map {code}"
    )
    create_markdown_artifact(key=f"{key}-summary", markdown=summary_markdown(summary))
    create_table_artifact(key=f"{key}-stages", table=summary["stages"])
    return {**summary, "map": str(map_path)}


@flow(name="convoy", flow_run_name="convoy-{code}", log_prints=True)
def convoy_flow(
    code: str, poll_seconds: float | None = None, max_wait_seconds: float | None = None
) -> dict[str, Any]:
    """One charter trip, from the muster at the origin to the last worker handed off."""
    w = {"poll_seconds": poll_seconds, "max_wait_seconds": max_wait_seconds}
    checklist = (
        muster_at_origin,
        pre_verify_identities,
        screen_before_departure,
        depart,
        travel_and_follow_up_entry,
        arrive,
        spot_check_on_arrival,
        hand_off_to_employers,
        close_convoy,
    )
    for step in checklist:
        done = step(code, **w)
        if done["status"] == "waiting":  # gave up waiting: stop here, resume on the next run
            return {**publish(code), "waiting_for": done["waiting_for"]}
    return publish(code)
