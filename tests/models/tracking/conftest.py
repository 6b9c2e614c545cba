"""Shared by the tracking tests: the planned departure and points along a convoy's route."""

from __future__ import annotations

from datetime import datetime

from models.convoy.store import get_convoy
from models.db import session_scope
from models.geo.geodesy import interpolate_along
from models.tracking.eta import route_of
from tests.conftest import SHANGHAI

DEP = datetime(2020, 2, 20, 14, 0, tzinfo=SHANGHAI)


def point_along(code: str, frac: float) -> tuple[float, float]:
    """The point ``frac`` of the way along convoy ``code``'s planned route."""
    with session_scope() as s:
        return interpolate_along(route_of(get_convoy(s, code).route()), frac)
