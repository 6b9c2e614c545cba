"""The convoy flow: one Prefect flow run per charter train, flight or bus, for its whole life.

It reads like the escort team's checklist. Each step is a task that calls one plain function
(``models.convoy.operations.advance``) in its own database transaction; the steps that need
people wait for the escorts' check-ins (``flows.service.waits``): from a deployment the run is
suspended until a check-in resumes it, embedded it waits in its process. The run first claims
the convoy (``models.convoy.runs``): a second run of a convoy whose run is live stops at once.
Run again or resumed after a crash, it continues at the first step not yet done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, runtime, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Cancelled, State
from pydantic import BaseModel

from flows.service import live
from flows.service.waits import Need, pause_key, plain, settle, step_task
from maps.files import save_convoy_map
from models.convoy.checkins import FEEDS, PAYLOADS, Kind, all_of, record_checkin
from models.convoy.lifecycle import STAGES, Stage
from models.convoy.operations import WAITS_FOR, advance
from models.convoy.store import activity_mark, get_convoy
from models.db import session_scope
from models.errors import RunBusyError
from models.intake.verification import summary_table as verification_summary
from models.views.reports import convoy_summary, summary_markdown

# Why a step waits, as the run and the Prefect UI's resume form say it.
REASONS: dict[Kind, str] = {
    Kind.MUSTER: "等待始发地集结点名 / waiting for the muster roll at the origin",
    Kind.SCREENING: "等待出发前健康筛查结果 / waiting for the screening results before departure",
    Kind.DEPART: "等待出发报到 / waiting for the departure check-in",
    Kind.ARRIVE: "等待到达报到 / waiting for the arrival check-in",
    Kind.ARRIVAL_SCREENING: "等待到达抽检结果 / waiting for the spot checks on arrival",
    Kind.HANDOFF: "等待企业交接 / waiting for the handoffs to the employers",
}


def artifact_key(text: str) -> str:
    """Prefect artifact keys: lowercase letters, digits and dashes."""
    return pause_key(text) if text.strip() else "convoy"


def notify_escorts_before(code: str, stage: Stage) -> None:
    """Queue the escorts' task for ``stage`` (and enterprise notices) in the outbox, e.g. the
    passengers still lacking an entry application once under way. Idempotent; a failure to
    queue is logged and never stops the convoy."""
    from flows.service.sender import queue_task_notices
    from models.errors import ConvoyOpsError

    try:
        queue_task_notices(code, STAGES[STAGES.index(stage) - 1])
    except ConvoyOpsError as exc:
        get_run_logger().warning("%s: escort notices not queued: %s", code, exc)


def _attempt(stage: Stage) -> Any:
    def attempt(code: str) -> dict[str, Any]:
        run_id = str(runtime.flow_run.id or "")
        live.beat("convoy", code, run_id)
        with session_scope() as session:
            result = advance(session, code, stage, flow_run_id=run_id)
        return {
            "stage": stage.value,
            "status": result.status,
            "waiting_for": result.waiting_for,
            "summary": result.summary,
        }

    return attempt


_STEP_KINDS = tuple(kind.value for kind in FEEDS)  # the check-ins a step reads


def _activity(code: str) -> object:
    with session_scope() as session:
        return activity_mark(session, code, _STEP_KINDS)


def _step(stage: Stage, name: str) -> Any:
    return step_task(
        name,
        _attempt(stage),
        before=lambda code: notify_escorts_before(code, stage),
        probe=_activity,
    )


muster_at_origin = _step(Stage.MUSTERING, "muster at origin")
pre_verify = _step(Stage.VERIFIED, "pre-verify identities")
screen_before_departure = _step(Stage.SCREENED, "screen before departure")
depart = _step(Stage.DEPARTED, "depart")
travel_and_follow_up_entry = _step(Stage.IN_TRANSIT, "travel and follow up entry applications")
arrive = _step(Stage.ARRIVED, "arrive")
spot_check_on_arrival = _step(Stage.ARRIVAL_SCREENED, "spot-check on arrival")
hand_off_to_employers = _step(Stage.HANDED_OFF, "hand off to employers")
close_convoy = _step(Stage.CLOSED, "close convoy")

CHECKLIST = (
    (Stage.MUSTERING, muster_at_origin),
    (Stage.VERIFIED, pre_verify),
    (Stage.SCREENED, screen_before_departure),
    (Stage.DEPARTED, depart),
    (Stage.IN_TRANSIT, travel_and_follow_up_entry),
    (Stage.ARRIVED, arrive),
    (Stage.ARRIVAL_SCREENED, spot_check_on_arrival),
    (Stage.HANDED_OFF, hand_off_to_employers),
    (Stage.CLOSED, close_convoy),
)


def checkin_needed(code: str, result: dict[str, Any]) -> Need:
    """What a waiting step of convoy ``code`` needs: the check-in payload model, and a key
    that changes with every check-in of that kind (a handoff step waits once per enterprise)."""
    kind = Kind(result["waiting_for"])
    with session_scope() as session:
        seen = len(all_of(session, get_convoy(session, code), kind))
    reason = REASONS[kind]
    pending = result.get("summary", {}).get("pending_enterprises")
    if pending:
        reason += f" ({'、'.join(pending)})"
    return Need(PAYLOADS[kind], f"{code}: {reason}", pause_key(kind.value, code, seen))


@task(name="record the check-in given in Prefect", cache_policy=NO_CACHE, persist_result=False)
def record_given_checkin(code: str, kind: str, payload: dict[str, Any]) -> int:
    """A check-in typed into the Prefect UI's resume form, recorded like any other."""
    with session_scope() as session:
        return record_checkin(session, code, kind, payload, source="prefect").id or 0


def _take(code: str, stage: Stage) -> Any:
    def take(given: BaseModel) -> None:
        kind = WAITS_FOR[stage]  # only steps that wait for a check-in are ever given one
        with session_scope() as session:  # recorded already (CLI, HTTP) before the resume?
            still = advance(session, code, stage).status == "waiting"
        if still:
            record_given_checkin(code, kind.value, plain(given, PAYLOADS[kind]))

    return take


@task(name="publish pre-verification", cache_policy=NO_CACHE, persist_result=False)
def publish_verification(code: str) -> None:
    """A masked summary table (outcomes and categories with seats and masked ID numbers)."""
    with session_scope() as session:
        rows = verification_summary(session, get_convoy(session, code).id or 0)
    create_table_artifact(
        key=artifact_key(f"preverify-{code}"),
        table=rows or [{"outcome": "nobody to verify", "category": "", "passengers": 0}],
        description=f"Pre-verification of convoy {code} (ID numbers and names masked).",
    )


@task(
    name="publish map and summary",
    retries=2,
    retry_delay_seconds=[1, 5],
    cache_policy=NO_CACHE,
    persist_result=False,
)
def publish(code: str) -> dict[str, Any]:
    """Write the route map and attach its link and the summary (masked: counts only, with the
    stage table) to the flow run; served, the map's link is the HTTP API's address of it."""
    with session_scope() as session:
        summary = convoy_summary(session, code)
    map_path = save_convoy_map(code)
    key = artifact_key(f"convoy-{code}")
    create_link_artifact(
        key=f"{key}-map", link=live.file_link(Path(map_path)), link_text=f"Route map {code}"
    )
    create_markdown_artifact(key=f"{key}-summary", markdown=summary_markdown(summary))
    return {**summary, "map": str(map_path)}


@flow(name="convoy", flow_run_name="convoy-{code}", log_prints=True)
def convoy_flow(
    code: str, poll_seconds: float | None = None, max_wait_seconds: float | None = None
) -> dict[str, Any] | State[Any]:
    """One charter trip, from the muster at the origin to the last worker handed off."""
    try:
        live.claim("convoy", code)
    except RunBusyError as exc:
        get_run_logger().warning("%s", exc)
        return Cancelled(name="Refused", message=str(exc))
    for stage, step in CHECKLIST:
        done = settle(
            step,
            code,
            need=lambda result: checkin_needed(code, result),
            take=_take(code, stage),
            poll_seconds=poll_seconds,
            max_wait_seconds=max_wait_seconds,
        )
        if stage is Stage.VERIFIED and done["status"] == "done":
            publish_verification(code)
        if done["status"] == "waiting":  # embedded, gave up waiting: resume on the next run
            result = {**publish(code), "waiting_for": done["waiting_for"]}
            message = (
                f"Convoy {code} waits for the {done['waiting_for']} check-in; "
                "run it again to resume."
            )
            return Cancelled(name="Waiting", message=message, data=result)
    summary = publish(code)
    live.release("convoy", code)
    return summary
