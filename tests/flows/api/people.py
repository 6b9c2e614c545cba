"""A convoy with an escort, a bound device and a user of every role, each with a live token:
what the API tests call the endpoints with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from models.access.users import add_user, issue_token
from models.convoy.store import assign_escort, get_convoy, upsert_escort
from models.db import session_scope
from models.tracking.devices import bind_device
from tests.conftest import ENTERPRISES

ESCORT_BADGE = "P9001"
OTHER_BADGE = "P9002"
DEVICE_ID = "phone-api-1"


@dataclass
class People:
    code: str  # the convoy the escort (and the device) is on
    other: str  # a convoy nobody of these escorts
    device: str  # device token
    tokens: dict[str, str]  # role (and "escort_other") -> user token


def make_people(make_convoy: Callable[..., str], code: str = "BUS-API1") -> People:
    make_convoy(code, n=3)
    other = make_convoy(f"{code}-B", n=2, seed=2)
    tokens: dict[str, str] = {}
    with session_scope() as s:
        assign_escort(s, get_convoy(s, code), upsert_escort(s, ESCORT_BADGE, name="钱警官"))
        assign_escort(s, get_convoy(s, other), upsert_escort(s, OTHER_BADGE, name="孙警官"))
        _, device = bind_device(s, DEVICE_ID, ESCORT_BADGE, code)
        add_user(s, "root", "admin")
        add_user(s, "coord", "coordinator")
        add_user(s, "boss", "manager")
        add_user(s, "permits", "permit_officer")
        add_user(s, "esc", "escort", escort=ESCORT_BADGE)
        add_user(s, "esc2", "escort", escort=OTHER_BADGE)
        add_user(s, "firm", "enterprise", enterprise=ENTERPRISES[0])
        for role, name in [
            ("admin", "root"),
            ("coordinator", "coord"),
            ("manager", "boss"),
            ("permit_officer", "permits"),
            ("escort", "esc"),
            ("escort_other", "esc2"),
            ("enterprise", "firm"),
        ]:
            tokens[role] = issue_token(s, name, days=5)[1]
    return People(code, other, device, tokens)
