"""Devices: bound by a token (only its hash stored), rebinding rotates it, revoking stops it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from config import Settings
from models.convoy.store import assign_escort, get_convoy, upsert_escort
from models.db import session_scope
from models.errors import AuthenticationError
from models.tracking.devices import (
    authenticate_device,
    bind_device,
    ingest_device_fix,
    revoke_device,
)
from models.tracking.fixes import Fix
from models.tracking.ingest import IngestStatus
from models.tracking.tables import DeviceReport
from tests.models.tracking.conftest import DEP, point_along


def test_devices_are_bound_by_token(make_convoy: Callable[..., str], settings: Settings) -> None:
    code = make_convoy("BUS-TR3", n=1)
    with session_scope() as s:
        e = upsert_escort(s, "P2001", name="王警官")
        assign_escort(s, get_convoy(s, code), e)
        device, token = bind_device(s, "phone-7", "P2001", code)
        assert device.token_hash != token and len(token) >= 24
    with session_scope() as s:
        assert authenticate_device(s, "phone-7", token).device_id == "phone-7"
        with pytest.raises(AuthenticationError, match="token is wrong"):
            authenticate_device(s, "phone-7", "guess")
        with pytest.raises(AuthenticationError):
            authenticate_device(s, "phone-8", token)
        _, new_token = bind_device(s, "phone-7", "P2001", code)  # rebinding rotates the token
        with pytest.raises(AuthenticationError):
            authenticate_device(s, "phone-7", token)
        device = authenticate_device(s, "phone-7", new_token)
        lat, lon = point_along(code, 0.05)
        r = ingest_device_fix(s, device, Fix(DEP, lat, lon, 60, battery=81), now=DEP)
        assert r.status is IngestStatus.LIVE
        report = s.execute(select(DeviceReport)).scalars().one()
        assert (report.battery, report.status) == (81, "live")
        revoke_device(s, "phone-7")
        with pytest.raises(AuthenticationError):
            authenticate_device(s, "phone-7", new_token)
