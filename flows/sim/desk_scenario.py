"""The demo's enterprise service desk (issue 16): liaison officers for a few enterprises, their
requests and consultations through the lifecycle (on the page, by phone, at the window; one
answered late, one passed on, one still in hand) and one batch check of an enterprise's staff
list (鄞州's 复工人员批量核查). Idempotent: built once, then left as it is."""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import select
from sqlmodel import Session, col

from config import get_settings
from models.access.actors import acting_as, link
from models.convoy.store import get_convoy
from models.convoy.tables import Passenger
from models.desk.liaison import assign_liaison
from models.desk.lookup import get_enterprise
from models.desk.requests import (
    log_request,
    pass_on_request,
    raise_request,
    resolve_request,
    take_request,
)
from models.desk.staff import check_staff_list
from models.desk.tables import DeskRequest, StaffCheck
from models.intake.identity import synthetic_id

LIAISONS = (  # enterprise (index into the demo's list), officer, deputy
    (0, "NB2001", "NB2002"),
    (2, "NB2003", None),
    (3, "NB2004", "NB2005"),
)
STAFF_CHECK_ENTERPRISE = 2  # 宁波鄞州甬丰模具有限公司


def build_desk_scenario(
    session: Session, campaign: str, enterprises: list[str], tz: tzinfo
) -> None:
    """Add the service desk's part of the demo campaign (once)."""

    def t(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=tz)

    for i, officer, deputy in LIAISONS:
        assign_liaison(session, enterprises[i], officer, deputy)
    if session.execute(select(col(DeskRequest.id)).limit(1)).first() is None:
        _requests(session, campaign, enterprises, t)
    if session.execute(select(col(StaffCheck.id)).limit(1)).first() is None:
        _staff_check(session, campaign, enterprises[STAFF_CHECK_ENTERPRISE], t("2020-02-21 10:00"))


def _page(session: Session, name: str, at: datetime, kind: str, text: str, contact: str,
          campaign: str) -> str:  # fmt: skip
    ent = get_enterprise(session, name)
    with acting_as(link(ent.name, ent.id or 0), "api"):
        return raise_request(
            session, ent.id or 0, kind=kind, text=text, contact_name=contact, at=at,
            campaign=campaign,
        ).number  # fmt: skip


def _requests(
    session: Session, campaign: str, ents: list[str], at: Callable[[str], datetime]
) -> None:
    h = timedelta(hours=1)
    a = _page(session, ents[3], at("2020-02-19 10:00"), "staff_return",
              "32 名员工在信阳，请协调纳入专列返岗。", "周主管", campaign)  # fmt: skip
    take_request(session, a, at=at("2020-02-19 10:30"))
    resolve_request(
        session, a, "已纳入 TRAIN-XY-01 专列（2 月 24 日）。", at=at("2020-02-19 15:00")
    )
    log_request(
        session, ents[0], kind="policy_question", text="外省返岗员工到厂后是否需要隔离？",
        channel="phone", contact_name="王经理", answer="按健康码管理，绿码无需隔离。",
        officer="NB2001", at=at("2020-02-19 14:00"), campaign=campaign,
    )  # fmt: skip
    b = log_request(
        session, ents[2], kind="vehicle_pass", text="接送员工大巴进厂区的通行证。",
        channel="window", contact_name="李经理", at=at("2020-02-20 09:00"), campaign=campaign,
    ).number  # fmt: skip
    take_request(session, b, officer="NB2003", at=at("2020-02-20 09:00") + h)
    pass_on_request(session, b, "鄞州交警大队", note="通行证由交警大队办理。",
                    at=at("2020-02-20 11:00"))  # fmt: skip
    c = _page(session, ents[4], at("2020-02-21 16:00"), "other",
              "员工宿舍消毒是否有统一要求？", "孙经理", campaign)  # fmt: skip
    take_request(session, c, officer="NB2005", at=at("2020-02-22 09:30"))
    resolve_request(session, c, "请按区疫情防控指南执行。", at=at("2020-02-22 10:30"))  # late
    d = _page(session, ents[1], at("2020-02-25 09:00"), "staff_return",
              "5 名员工乘 FLIGHT-KWE-01 返岗，需接机。", "陈主任", campaign)  # fmt: skip
    take_request(session, d, officer="NB2002", at=at("2020-02-25 09:20"))  # still in hand


def _staff_check(session: Session, campaign: str, name: str, at: datetime) -> None:
    """The enterprise's list: three of its workers already on the train's manifest, eight
    others, one mistyped ID number."""
    ent = get_enterprise(session, name)
    train = get_convoy(session, "TRAIN-XY-01")
    riding = session.execute(
        select(col(Passenger.name), col(Passenger.id_number))
        .where(col(Passenger.convoy_id) == train.id, col(Passenger.enterprise_id) == ent.id)
        .order_by(col(Passenger.seat)).limit(3)
    ).all()  # fmt: skip
    rng = random.Random("demo:staff-check")
    rows = [(n, i) for n, i in riding]
    rows += [(f"员工{k}", synthetic_id(rng, "411500")) for k in range(1, 9)]
    rows.append(("张错号", "41150019900101123"))
    folder = get_settings().output_dir / "desk"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "demo-staff-list.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["姓名", "身份证号"])
        w.writerows(rows)
    try:
        with acting_as(link(ent.name, ent.id or 0), "api"):
            check_staff_list(session, ent.id or 0, path, channel="page", at=at,
                             file_name="返岗员工名单.csv", campaign=campaign)  # fmt: skip
    finally:
        path.unlink()  # the list holds full ID numbers: only the masked result is kept
