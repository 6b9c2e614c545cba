"""Shared by the alert tests: convoys under way with an escort, driven along their route."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from config import Settings, reset_settings
from models.convoy.lifecycle import Stage
from models.convoy.store import assign_escort, get_convoy, upsert_escort
from models.db import session_scope
from models.geo.geodesy import interpolate_along
from models.tracking.alerts.lifecycle import list_alerts
from models.tracking.alerts.tables import Alert
from models.tracking.eta import route_of
from models.tracking.fixes import Fix
from models.tracking.ingest import ingest_fix
from tests.conftest import SHANGHAI
from tests.models.tracking.conftest import DEP

ARR = datetime(2020, 2, 21, 16, 0, tzinfo=SHANGHAI)


def setup_convoy(
    make_convoy: Callable[..., str], code: str, stage: Stage = Stage.IN_TRANSIT
) -> str:
    make_convoy(code, n=2)
    with session_scope() as s:
        c = get_convoy(s, code)
        e = upsert_escort(s, f"E-{code}", name="李警官", notify_url=f"json://127.0.0.1:9/{code}")
        assign_escort(s, c, e)
        c.stage = stage.value
        if stage in (Stage.DEPARTED, Stage.IN_TRANSIT):
            c.actual_departure = DEP
    return code


def drive(code: str, t: datetime, kmh: float, settings: Settings) -> None:
    """Report the position the convoy has reached at ``t`` going at ``kmh`` (road km)."""
    with session_scope() as s:
        c = get_convoy(s, code)
        route = route_of(c.route())
        km = (t - DEP).total_seconds() / 3600 * kmh / 1.25
        frac = min(1.0, km / route.length_km)
        ingest_fix(s, c, Fix(t, *interpolate_along(route, frac), kmh), source="sim", now=t)


def alerts_of(code: str | None = None, all_: bool = True) -> list[Alert]:
    with session_scope() as s:
        return [a for a, _ in list_alerts(s, all_, code)]


@pytest.fixture
def fast_escalation(settings: Settings) -> Settings:
    return reset_settings(
        alert_escalate_after_minutes=15,
        notify_roles={"duty": ["json://127.0.0.1:9/duty"], "coordinator": ["json://127.0.0.1:9/c"]},
    )
