"""The vehicle-pass lifecycle: the steps in order, refusals, rejection, re-routing, input rules."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from config import Settings
from models.db import session_scope
from models.errors import NotFoundError, TransitionError, ValidationError
from models.geo.datums import gcj02_to_wgs84
from models.permits.lifecycle import (
    Via,
    deliver_permit,
    effective_status,
    issue_permit,
    plan_route,
    reject_application,
    step_state,
    survey_site,
)
from models.permits.queries import get_application, get_permit
from models.permits.tables import PermitEvent, PermitStatus
from tests.conftest import SHANGHAI
from tests.models.permits.conftest import T0, apply, through


def test_lifecycle_to_delivered_with_events(settings: Settings) -> None:
    n = apply(crs="wgs84")
    assert n == "TX-20200220-0001"
    with session_scope() as s:
        assert [step_state(get_application(s, n), k) for k in ("survey", "deliver")] == [
            "waiting",
            "waiting",
        ]
    through(n, "deliver")
    with session_scope() as s:
        app = get_application(s, n)
        permit = get_permit(s, app)
        assert app.status == PermitStatus.DELIVERED and permit is not None
        assert permit.number == n and permit.delivered_to == "王经理"
        assert permit.valid_from == datetime(2020, 2, 20, tzinfo=SHANGHAI)
        assert permit.valid_until.astimezone(SHANGHAI).date() == date(2020, 3, 31)
        assert permit.issued_at.tzinfo is not None and permit.valid_until.tzinfo is not None
        events = s.execute(select(PermitEvent).order_by(PermitEvent.seq)).scalars().all()
        assert [(e.from_status, e.to_status) for e in events] == [
            ("", "applied"),
            ("applied", "surveyed"),
            ("surveyed", "route_planned"),
            ("route_planned", "issued"),
            ("issued", "delivered"),
        ]
        assert all(step_state(app, k) == "done" for k in ("survey", "route", "issue", "deliver"))
        # the route: the waypoints, then the site
        assert app.route()[0] != app.route()[-1] == (app.site_lat, app.site_lon)
        assert effective_status(app, permit, T0) is PermitStatus.DELIVERED
        after = datetime(2020, 4, 1, 0, 0, tzinfo=SHANGHAI)
        assert effective_status(app, permit, after) is PermitStatus.EXPIRED
        assert effective_status(app, permit, after - timedelta(seconds=1)) == "delivered"


@pytest.mark.parametrize(
    ("done", "action", "message"),
    [
        ("", lambda s, n: issue_permit(s, n), "is applied; it can only be issued when it is"),
        ("", lambda s, n: deliver_permit(s, n, to="x"), "it can only be delivered when"),
        ("survey", lambda s, n: survey_site(s, n, ok=True), "can only be surveyed when"),
        ("issue", lambda s, n: reject_application(s, n, "too late"), "can only be rejected"),
        ("issue", lambda s, n: plan_route(s, n, ["宁波站"]), "can only be routed when"),
        ("deliver", lambda s, n: deliver_permit(s, n, to="x"), "is delivered; it can only"),
    ],
)
def test_steps_out_of_order_are_refused(
    settings: Settings, done: str, action: Any, message: str
) -> None:
    n = apply()
    if done:
        through(n, done)
    with session_scope() as s, pytest.raises(TransitionError, match=message) as exc:
        action(s, n)
    assert str(exc.value).endswith(".")


def test_rejection_needs_a_reason_and_ends_the_application(settings: Settings) -> None:
    n = apply()
    with session_scope() as s, pytest.raises(ValidationError, match="needs the reason"):
        survey_site(s, n, ok=False)
    with session_scope() as s:
        survey_site(s, n, ok=False, note="site entrance too narrow for the truck", at=T0)
    with session_scope() as s:
        app = get_application(s, n)
        assert app.status == "rejected" and app.reason.startswith("site entrance")
        assert step_state(app, "survey") == "rejected"
    with session_scope() as s, pytest.raises(TransitionError):
        survey_site(s, n, ok=True)
    # a rejected application no longer blocks a new one for the same truck
    assert apply(at=T0 + timedelta(hours=1)) != n


def test_route_can_be_planned_again_until_issued(settings: Settings) -> None:
    n = apply()
    through(n, "route")
    with session_scope() as s:
        app = plan_route(s, n, [Via("入口", 29.93, 121.85, "gcj02")], at=T0 + timedelta(hours=3))
        assert app.waypoints[0]["lat"] == pytest.approx(gcj02_to_wgs84(29.93, 121.85)[0])
        assert len(app.waypoints) == 1


def test_application_input_rules(settings: Settings) -> None:
    with pytest.raises(ValidationError, match="not a mainland mobile"):
        apply(contact_phone="12345")
    with pytest.raises(ValidationError, match="before it starts"):
        apply(valid_from=date(2020, 3, 5), valid_until=date(2020, 3, 1))
    with pytest.raises(ValidationError, match="has no time zone"):
        apply(at=datetime(2020, 2, 20, 9, 0))
    with pytest.raises(ValidationError, match=r"place .* or its latitude"):
        apply(place=None)
    with pytest.raises(NotFoundError, match="no campaign"):
        apply(campaign="nope")
    # a point in GCJ-02 is stored in WGS-84
    n = apply(place=None, lat=29.90, lon=121.84, crs="gcj02")
    with session_scope() as s:
        app = get_application(s, n)
        assert (app.site_lat, app.site_lon) == pytest.approx(gcj02_to_wgs84(29.90, 121.84))
    with pytest.raises(ValidationError, match="already has an open application"):
        apply()
    with session_scope() as s, pytest.raises(NotFoundError, match="no vehicle-pass application"):
        get_application(s, "TX-20200220-0099")
    with session_scope() as s, pytest.raises(ValidationError, match="before its last recorded"):
        survey_site(s, n, ok=True, at=T0 - timedelta(minutes=1))
