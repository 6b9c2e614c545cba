"""The vehicle-pass flow through Prefect: it waits for the officer's steps, stops cleanly with
a time limit and resumes, writes the route map (no phone in it) and links it on the run."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import date
from pathlib import Path

from prefect.client.orchestration import get_client

from config import Settings
from flows.permits import permit_flow
from flows.service.waits import run_here
from models.db import session_scope
from models.permits.lifecycle import (
    apply_for_permit,
    deliver_permit,
    issue_permit,
    plan_route,
    survey_site,
)
from models.permits.queries import get_application
from tests.maps.mapcheck import decoded, leaks

PHONE = "13912345678"


def file_application(plate: str = "浙B54321") -> str:
    with session_scope() as s:
        return apply_for_permit(
            s,
            enterprise="宁波建工集团有限公司",
            contact_name="李经理",
            contact_phone=PHONE,
            plate=plate,
            vehicle_type="混凝土搅拌车",
            site_name="北仑工地",
            place="北仑",
            valid_until=date(2099, 12, 31),
        ).number


def survey_route_issue(number: str) -> None:
    with session_scope() as s:
        survey_site(s, number, ok=True)
        plan_route(s, number, ["宁波站", "鄞州"])
        issue_permit(s, number)


def deliver(number: str) -> None:
    with session_scope() as s:
        deliver_permit(s, number, to="李经理")


def link_artifacts(prefix: str) -> dict[str, str]:
    async def read() -> dict[str, str]:
        async with get_client() as client:
            arts = await client.read_artifacts()
        return {a.key: str(a.data) for a in arts if a.key and a.key.startswith(prefix)}

    return asyncio.run(read())


def flow_run_names() -> set[str]:
    async def read() -> set[str]:
        async with get_client() as client:
            runs = await client.read_flow_runs()
        return {r.name for r in runs}

    return asyncio.run(read())


def test_flow_waits_for_each_step_of_the_officer(settings: Settings) -> None:
    number = file_application()

    def officer() -> None:  # records the steps while the flow is waiting for them
        for act in (
            lambda s: survey_site(s, number, ok=True, note="entrance 6 m wide"),
            lambda s: plan_route(s, number, ["宁波站", "鄞州"]),
            lambda s: issue_permit(s, number),
            lambda s: deliver_permit(s, number, to="李经理"),
        ):
            time.sleep(0.3)
            with session_scope() as s:
                act(s)

    thread = threading.Thread(target=officer)
    thread.start()
    try:
        result = permit_flow(number, poll_seconds=0.05, max_wait_seconds=60)
    finally:
        thread.join()
    assert result["status"] == "delivered" and "waiting_for" not in result
    assert result["delivered_to"] == "李经理" and result["phone"] == "139****5678"
    html = Path(result["map"])
    assert html.parent == settings.output_dir / "permits" and html.name == f"{number}.html"
    text = decoded(html.read_text(encoding="utf-8"))
    assert number in text and "浙B54321" in text and "北仑工地" in text
    assert leaks(text, [PHONE, "139****5678", "李经理"]) == []
    key = f"permit-{number.lower()}-map"
    found = link_artifacts(key)
    assert set(found) == {key} and f"{number}.html" in found[key]
    assert f"permit-{number}" in flow_run_names()


def _run(number: str) -> tuple[dict, str]:
    result, state = run_here(permit_flow, number, poll_seconds=0.05, max_wait_seconds=0.2)
    return result, f"{state.type.value} {state.name}"


def test_flow_stops_when_waiting_and_resumes(settings: Settings) -> None:
    number = file_application("浙BD12345")
    first, state = _run(number)
    assert (first["status"], first["waiting_for"], first["map"]) == ("applied", "survey", "")
    assert first["next_command"] == f"convoy permit survey {number} --ok"
    assert state == "CANCELLED Waiting"  # not Completed: the application still waits

    survey_route_issue(number)
    second, state = _run(number)
    assert (second["status"], second["waiting_for"]) == ("issued", "deliver")
    assert Path(second["map"]).is_file() and state == "CANCELLED Waiting"

    deliver(number)
    third, state = _run(number)
    assert third["status"] == "delivered" and "waiting_for" not in third
    assert third["map"] == second["map"] and state == "COMPLETED Completed"
    # running a finished application again changes nothing
    again, _ = _run(number)
    assert again == third


def test_rejected_application_ends_the_flow(settings: Settings) -> None:
    number = file_application("浙B66666")
    with session_scope() as s:
        survey_site(s, number, ok=False, note="no room to turn at the gate")
    result = permit_flow(number, poll_seconds=0.05, max_wait_seconds=0.2)
    assert result["status"] == "rejected" and result["map"] == ""
    assert "waiting_for" not in result
    with session_scope() as s:
        assert get_application(s, number).reason == "no room to turn at the gate"
