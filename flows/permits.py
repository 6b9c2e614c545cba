"""The vehicle-pass flow: one Prefect flow run per application (``permit-{number}``).

It reads like the permit officer's checklist: survey the site → plan the route → issue the
pass → deliver it. The officer records each step through the CLI (``convoy permit survey …``,
``route``, ``issue``, ``deliver``), which applies it in the database through
``models.permits.lifecycle``; each task of the flow waits for its step by polling the database
(as the convoy flow waits for check-ins). With ``max_wait_seconds`` a step still waiting
stops the run cleanly; run it again and it resumes there. Once the pass is issued the flow
writes its route map (offline HTML under ``output_dir/permits``) and attaches a link
to it to the flow run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import Task, flow, get_run_logger, task
from prefect.artifacts import create_link_artifact

from config import get_settings
from flows.convoy import artifact_key
from maps.offline import OfflineMode, save_offline
from maps.permit import permit_map
from maps.style import MapOptions
from models.db import session_scope
from models.permits.days import local_day
from models.permits.lifecycle import step_state
from models.permits.queries import get_application, get_permit
from models.permits.records import permit_record

__all__ = ["permit_flow", "save_permit_map", "wait_for_permit_step"]

# What the officer records for each step (for the "waiting for …" message).
COMMANDS = {
    "survey": "convoy permit survey {n} --ok",
    "route": "convoy permit route {n} --via PLACE",
    "issue": "convoy permit issue {n}",
    "deliver": "convoy permit deliver {n} --to NAME",
}


def wait_for_permit_step(
    number: str, step: str, poll_seconds: float | None, max_wait_seconds: float | None
) -> dict[str, Any]:
    """Poll until the officer has recorded ``step`` (``done``) or rejected the application
    (``rejected``). With a time limit, a step still waiting when it runs out returns
    ``status == "waiting"``."""
    poll = poll_seconds if poll_seconds is not None else get_settings().checkin_poll_seconds
    started = time.monotonic()
    while True:
        with session_scope() as session:
            state = step_state(get_application(session, number), step)
        if state != "waiting":
            return {"step": step, "status": state}
        if max_wait_seconds is not None and time.monotonic() - started >= max_wait_seconds:
            return {"step": step, "status": "waiting", "waiting_for": step}
        time.sleep(poll)


def _step(step: str, name: str) -> Task[..., dict[str, Any]]:
    @task(name=name, task_run_name=f"{name} [{{number}}]")
    def run(
        number: str, poll_seconds: float | None = None, max_wait_seconds: float | None = None
    ) -> dict[str, Any]:
        result = wait_for_permit_step(number, step, poll_seconds, max_wait_seconds)
        get_run_logger().info("%s: %s %s", number, step, result["status"])
        return result

    return run


survey_site = _step("survey", "survey the site")
plan_route = _step("route", "plan the route")
issue_pass = _step("issue", "issue the pass")
deliver_pass = _step("deliver", "deliver the pass")


def save_permit_map(number: str, *, path: Path | None = None, mode: OfflineMode = "folder") -> Path:
    """Write the route map of an issued pass (offline HTML) into
    ``output_dir/permits/NUMBER.html`` or ``path``; returns the file. The map shows the
    number, plate, validity, route and site, never the contact or the phone."""
    settings = get_settings()
    with session_scope() as session:
        app = get_application(session, number)
        permit = get_permit(session, app)
        route = app.route()
        site = (app.site_lat, app.site_lon)
        until = f" → {local_day(permit.valid_until, settings)}" if permit else ""
        title = f"{app.number} {app.plate}{until}"
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


@task(name="publish the permit map", retries=2, retry_delay_seconds=[1, 5])
def publish_map(number: str) -> str:
    """Write the pass's route map and attach a link to it to the flow run."""
    path = save_permit_map(number)
    create_link_artifact(
        key=f"{artifact_key(f'permit-{number}')}-map",
        link=path.resolve().as_uri(),
        link_text=f"Vehicle pass {number}: route map",
    )
    return str(path)


def _record(number: str) -> dict[str, Any]:
    with session_scope() as session:
        return permit_record(session, get_application(session, number))


@flow(name="permit", flow_run_name="permit-{number}", log_prints=True)
def permit_flow(
    number: str, poll_seconds: float | None = None, max_wait_seconds: float | None = None
) -> dict[str, Any]:
    """One vehicle-pass application, from the site survey to the pass delivered."""
    w = {"poll_seconds": poll_seconds, "max_wait_seconds": max_wait_seconds}
    map_path = ""
    for step in (survey_site, plan_route, issue_pass, deliver_pass):
        done = step(number, **w)
        if step is issue_pass and done["status"] == "done":
            map_path = publish_map(number)
        if done["status"] == "rejected":
            break
        if done["status"] == "waiting":  # gave up waiting: stop here, resume on the next run
            command = COMMANDS[done["waiting_for"]].format(n=number)
            return {
                **_record(number),
                "map": map_path,
                "waiting_for": done["waiting_for"],
                "next_command": command,
            }
    return {**_record(number), "map": map_path}
