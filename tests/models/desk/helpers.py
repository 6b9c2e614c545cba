"""A small service-desk world on the test database: the two enterprises of ``make_convoy`` with
a convoy of their workers, two officers with notify URLs, the first enterprise's liaison."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import col

from models.access.actors import Actor, acting_as, link, operator
from models.convoy.store import upsert_escort
from models.convoy.tables import Enterprise
from models.db import session_scope
from models.desk.liaison import assign_liaison
from models.notify.outbox import OutboxMessage
from tests.conftest import ENTERPRISES

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2020, 2, 20, 9, 30, tzinfo=SH)
OFFICER_URL = "json://127.0.0.1:9/officer-nb3001"
DEPUTY_URL = "json://127.0.0.1:9/deputy-nb3002"
ROOT = operator("root")


def setup_desk(make_convoy: Callable[..., str], n: int = 6) -> dict[str, Any]:
    code = make_convoy("BUS-DESK", n=n)
    with acting_as(ROOT, "cli"), session_scope() as s:
        upsert_escort(s, "NB3001", name="赵警官", unit="象山分局", phone="13900001111",
                      notify_url=OFFICER_URL)  # fmt: skip
        upsert_escort(s, "NB3002", name="钱警官", unit="象山分局", phone="13900002222",
                      notify_url=DEPUTY_URL)  # fmt: skip
        assign_liaison(s, ENTERPRISES[0], "NB3001", "NB3002")
        ids = {
            name: eid
            for eid, name in s.execute(select(col(Enterprise.id), col(Enterprise.name))).all()
        }
    return {"code": code, "ids": [ids[ENTERPRISES[0]], ids[ENTERPRISES[1]]]}


def as_link(world: dict[str, Any], i: int) -> Actor:
    return link(ENTERPRISES[i], world["ids"][i])


def outbox(prefix: str) -> list[OutboxMessage]:
    with session_scope() as s:
        return list(
            s.execute(
                select(OutboxMessage)
                .where(col(OutboxMessage.key).startswith(prefix))
                .order_by(col(OutboxMessage.id))
            ).scalars()
        )
