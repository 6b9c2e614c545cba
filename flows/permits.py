"""The vehicle-pass flow: one Prefect flow run per application (``permit-{number}``).

It reads like the permit officer's checklist: survey the site → plan the route → issue the
pass → deliver it. The officer records each step through the CLI (``convoy permit survey …``,
``route``, ``issue``, ``deliver``), which applies it in the database through
``models.permits.lifecycle``; each task of the flow waits for its step as the convoy flow waits
for check-ins (``flows.service.waits``): from a deployment the run is suspended until the step
is recorded (or typed into the Prefect UI's resume form), embedded it polls, and with
``max_wait_seconds`` a step still waiting ends the run *Cancelled*; run it again and it resumes
there. Once the pass is issued the flow writes its route map (offline HTML under
``output_dir/permits``) and attaches a link to it to the flow run.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_link_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Cancelled, State
from pydantic import BaseModel, Field
from sqlmodel import Session

from config import get_settings
from flows.convoy import artifact_key
from flows.service import live
from flows.service.waits import Need, pause_key, settle, step_task
from maps.offline import OfflineMode, save_offline
from maps.permit import permit_map
from maps.style import MapOptions
from models.db import session_scope
from models.errors import RunBusyError
from models.permits.days import local_day
from models.permits.lifecycle import (
    deliver_permit,
    issue_permit,
    plan_route,
    step_state,
    survey_site,
)
from models.permits.queries import get_application, get_permit, plates_label, plates_of
from models.permits.records import permit_record

__all__ = ["permit_flow", "save_permit_map"]

# What the officer records for each step (for the "waiting for …" message).
COMMANDS = {
    "survey": "convoy permit survey {n} --ok",
    "route": "convoy permit route {n} --via PLACE",
    "issue": "convoy permit issue {n}",
    "deliver": "convoy permit deliver {n} --to NAME",
}
REASONS = {
    "survey": "等待现场勘查 / waiting for the site survey",
    "route": "等待路线规划 / waiting for the route plan",
    "issue": "等待核发通行证 / waiting for the pass to be issued",
    "deliver": "等待送达通行证 / waiting for the pass to be delivered",
}


class SurveyInput(BaseModel):
    """The site survey, as the officer records it."""

    ok: bool = Field(True, description="The survey passed (false rejects the application).")
    note: str = Field("", description="Findings; the reason when rejecting.")


class RouteInput(BaseModel):
    """The permitted route: waypoints in order from the start, then the site."""

    via: list[str] = Field(default_factory=list, description="Places the gazetteer knows.")
    note: str = ""


class IssueInput(BaseModel):
    """Issue the pass (valid as requested unless a last day is given)."""

    until: date | None = None


class DeliverInput(BaseModel):
    """Who received the pass at the door."""

    to: str = ""


INPUTS: dict[str, type[BaseModel]] = {
    "survey": SurveyInput,
    "route": RouteInput,
    "issue": IssueInput,
    "deliver": DeliverInput,
}


def _apply(number: str, step: str, given: BaseModel) -> None:
    """An officer's step typed into the Prefect UI's resume form, applied like the CLI's."""
    data = given.model_dump()
    with session_scope() as session:
        if step_state(get_application(session, number), step) != "waiting":
            return  # recorded already (the CLI) before the run was resumed
        actor = "prefect"
        if step == "survey":
            survey_site(session, number, ok=data["ok"], note=data["note"], actor=actor)
        elif step == "route":
            plan_route(session, number, data["via"], note=data["note"], actor=actor)
        elif step == "issue":
            issue_permit(session, number, valid_until=data["until"], actor=actor)
        else:
            deliver_permit(session, number, to=data["to"], actor=actor)


def _attempt(step: str) -> Any:
    def attempt(number: str) -> dict[str, Any]:
        from prefect import runtime

        live.beat("permit", number, str(runtime.flow_run.id or ""))
        with session_scope() as session:
            state = step_state(get_application(session, number), step)
        return {"step": step, "status": state, "waiting_for": step if state == "waiting" else ""}

    return attempt


survey_the_site = step_task("survey the site", _attempt("survey"))
plan_the_route = step_task("plan the route", _attempt("route"))
issue_the_pass = step_task("issue the pass", _attempt("issue"))
deliver_the_pass = step_task("deliver the pass", _attempt("deliver"))
CHECKLIST = (
    ("survey", survey_the_site),
    ("route", plan_the_route),
    ("issue", issue_the_pass),
    ("deliver", deliver_the_pass),
)


def _need(number: str, step: str) -> Need:
    return Need(INPUTS[step], f"{number}: {REASONS[step]}", pause_key(step, number, 0))


def save_permit_map(
    number: str,
    *,
    path: Path | None = None,
    mode: OfflineMode = "folder",
    session: Session | None = None,
) -> Path:
    """Write the route map of an issued pass (offline HTML) into
    ``output_dir/permits/NUMBER.html`` or ``path``; returns the file. The map shows the
    number, plates, validity, route and site, never the contact or the phone. ``session``:
    read it in the caller's transaction (default: a session of its own)."""
    settings = get_settings()
    with nullcontext(session) if session is not None else session_scope() as s:
        app = get_application(s, number)
        permit = get_permit(s, app)
        route = app.route()
        site = (app.site_lat, app.site_lon)
        until = f" → {local_day(permit.valid_until, settings)}" if permit else ""
        title = f"{app.number} {plates_label(plates_of(s, app))}{until}"
        site_name = app.site_name
    if len(route) < 2:
        route = [site, site]  # no waypoint recorded: the site alone
    m = permit_map(
        route, site, title=title, site_name=site_name, options=MapOptions.from_settings(settings)
    )
    target = path or settings.output_dir / "permits" / f"{number}.html"
    return save_offline(
        m, target, mode=mode, tile_url=settings.tile_url, tile_attribution=settings.tile_attribution
    )


@task(
    name="publish the permit map",
    retries=2,
    retry_delay_seconds=[1, 5],
    cache_policy=NO_CACHE,
    persist_result=False,
)
def publish_map(number: str) -> str:
    """Write the pass's route map and attach a link to it to the flow run."""
    path = save_permit_map(number)
    create_link_artifact(
        key=f"{artifact_key(f'permit-{number}')}-map",
        link=live.file_link(path),
        link_text=f"Vehicle pass {number}: route map",
    )
    return str(path)


@task(name="permit record", cache_policy=NO_CACHE, persist_result=False)
def _record(number: str) -> dict[str, Any]:
    with session_scope() as session:
        return permit_record(session, get_application(session, number))


@flow(name="permit", flow_run_name="permit-{number}", log_prints=True)
def permit_flow(
    number: str, poll_seconds: float | None = None, max_wait_seconds: float | None = None
) -> dict[str, Any] | State[Any]:
    """One vehicle-pass application, from the site survey to the pass delivered."""
    try:
        live.claim("permit", number)
    except RunBusyError as exc:
        return Cancelled(name="Refused", message=str(exc))
    map_path = ""
    for step, run in CHECKLIST:
        done = settle(
            run,
            number,
            need=lambda _result, step=step: _need(number, step),  # type: ignore[misc]
            take=lambda given, step=step: _apply(number, step, given),  # type: ignore[misc]
            poll_seconds=poll_seconds,
            max_wait_seconds=max_wait_seconds,
        )
        if step == "issue" and done["status"] == "done":
            map_path = publish_map(number)
        if done["status"] == "rejected":
            break
        if done["status"] == "waiting":  # embedded, gave up waiting: resume on the next run
            command = COMMANDS[step].format(n=number)
            result = {
                **_record(number),
                "map": map_path,
                "waiting_for": step,
                "next_command": command,
            }
            message = f"Application {number} waits for the {step} step: {command}."
            return Cancelled(name="Waiting", message=message, data=result)
    live.release("permit", number)
    return {**_record(number), "map": map_path}
