"""The service desk's figures in the campaign report equal direct counts of the data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlmodel import col

from config import Settings
from models.access.actors import acting_as
from models.convoy.tables import Passenger
from models.db import session_scope
from models.desk.requests import log_request, raise_request, resolve_request, take_request
from models.desk.staff import check_staff_list
from models.desk.tables import DeskRequest, StaffCheck
from models.views.reports import campaign_figures
from tests.conftest import ENTERPRISES
from tests.models.desk.helpers import ROOT, T0, as_link, setup_desk


def test_report_figures_equal_direct_counts(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    w = setup_desk(make_convoy, n=4)
    staff = settings.var_dir / "staff.csv"
    staff.parent.mkdir(parents=True, exist_ok=True)
    staff.write_text("姓名,身份证号\n张三,110101199003074514\n李四,bad\n", encoding="utf-8")
    with acting_as(as_link(w, 0), "api"), session_scope() as s:
        a = raise_request(s, w["ids"][0], kind="staff_return", text="返岗", at=T0).number
        b = raise_request(s, w["ids"][0], kind="policy_question", text="政策", at=T0).number
        raise_request(s, w["ids"][0], kind="other", text="其他", at=T0)  # stays open
    with acting_as(ROOT, "cli"), session_scope() as s:
        log_request(s, ENTERPRISES[0], kind="policy_question", text="电话咨询", answer="已答复",
                    at=T0)  # fmt: skip
        for number, late in ((a, timedelta(hours=1)), (b, timedelta(days=1))):
            take_request(s, number, at=T0 + late)
            resolve_request(s, number, "已办", at=T0 + late)
        check_staff_list(s, w["ids"][0], staff)
    with session_scope() as s:  # one worker of the second enterprise handed off (bulk, as flows do)
        first = s.execute(
            select(col(Passenger.id)).where(col(Passenger.enterprise_id) == w["ids"][1])
        ).scalars().first()  # fmt: skip
        s.execute(update(Passenger).where(col(Passenger.id) == first).values(custody="handed_off"))
    with acting_as(ROOT, "cli"), session_scope() as s:
        desk = campaign_figures(s, "test campaign")["desk"]
        everything = campaign_figures(s)["desk"]
        reqs = list(s.execute(select(DeskRequest)).scalars())
        checks = list(s.execute(select(StaffCheck)).scalars())
        handed = set(s.execute(
            select(col(Passenger.enterprise_id)).where(col(Passenger.custody) == "handed_off")
        ).scalars())  # fmt: skip
        n_checked = s.execute(select(func.sum(col(StaffCheck.checked)))).scalar_one()
    closed = [r for r in reqs if r.status in ("resolved", "passed_on")]
    kinds = Counter(r.kind for r in reqs)
    assert desk == everything  # every record here belongs to the one campaign
    assert (
        desk["enterprises_served"]
        == len({r.enterprise_id for r in reqs} | {c.enterprise_id for c in checks} | handed)
        == 2
    )
    assert desk["requests"] == len(reqs) == 4
    assert desk["requests_by_type"] == {
        "staff_return": kinds["staff_return"], "vehicle_pass": 0,
        "policy_question": kinds["policy_question"], "other": kinds["other"],
    }  # fmt: skip
    assert desk["requests_by_channel"] == dict(Counter(r.channel for r in reqs))
    same_day = sum(r.closed_at is not None and r.closed_at <= r.due_at for r in closed)
    assert (desk["requests_closed"], desk["same_day"]) == (len(closed), same_day) == (3, 2)
    assert desk["same_day_rate"] == round(same_day / len(closed), 4)
    assert desk["requests_open"] == len(reqs) - len(closed)
    assert desk["staff_checks"] == len(checks) == 1
    assert desk["staff_checked"] == n_checked == 1
    assert desk["enterprises_with_liaison"] == 1
    with session_scope() as s:
        assert campaign_figures(s, "no such campaign")["desk"]["requests"] == 0
