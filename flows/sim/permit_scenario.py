"""The demo's vehicle-pass scenario (the model case's afternoon): one construction enterprise
applies at 09:00 for 50 trucks of a major project; the site is surveyed the same morning, the
route planned (and its map written), 50 numbered passes issued at 14:00 and taken to the site
on one delivery trip, received by 17:30 — same-day service.

Deterministic and idempotent: run again, it finds its application and changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session, col

from models.permits.lifecycle import (
    Vehicle,
    Via,
    apply_for_permit,
    issue_permit,
    plan_route,
    survey_site,
)
from models.permits.tables import PermitApplication
from models.permits.trips import deliver_trip, plan_trip

SHANGHAI = ZoneInfo("Asia/Shanghai")
ENTERPRISE = "宁波轨道交通示范建设工程有限公司"
PROJECT = "宁波轨道交通3号线北仑延伸段"
SITE = "3号线北仑段第2标段工地"
TRUCKS = 50
OFFICER = "NB3001"


def _t(clock: str) -> datetime:
    return datetime.fromisoformat(f"2020-02-20 {clock}").replace(tzinfo=SHANGHAI)


def fleet() -> list[Vehicle]:
    """50 trucks: 40 muck trucks (ordinary plates) and 10 new-energy mixers (浙BD…)."""
    trucks = [Vehicle(f"浙B{3000 + i:04d}K", "渣土车") for i in range(40)]
    trucks += [Vehicle(f"浙BD{20200 + i:05d}", "混凝土搅拌车") for i in range(10)]
    return trucks


def build_permit_scenario(session: Session, campaign: str | None = None) -> str:
    """File and take the scenario's application through every step (once); returns its
    number."""
    found = (
        session.execute(
            select(PermitApplication).where(
                col(PermitApplication.enterprise) == ENTERPRISE,
                col(PermitApplication.site_name) == SITE,
            )
        )
        .scalars()
        .first()
    )
    if found is not None:
        return found.number
    app = apply_for_permit(
        session, enterprise=ENTERPRISE, site_name=SITE, project=PROJECT, vehicles=fleet(),
        contact_name="陈经理", contact_phone="13805740320", place="北仑",
        valid_until=date(2020, 3, 31), campaign=campaign, at=_t("09:00"), actor=OFFICER,
    )  # fmt: skip
    number = app.number
    survey_site(session, number, ok=True, note="现场勘查：大门宽7米，可掉头", at=_t("10:30"),
                actor=OFFICER)  # fmt: skip
    plan_route(session, number, ["宁波站", Via("北仑港区", 29.93, 121.85)], at=_t("11:30"),
               actor=OFFICER)  # fmt: skip
    issue_permit(session, number, at=_t("14:00"), actor=OFFICER)
    from flows.permits import save_permit_map  # imports Prefect: only when needed

    save_permit_map(number, session=session)
    trip = plan_trip(session, PROJECT, at=_t("15:00"), officer=OFFICER, note="送证上门")
    deliver_trip(session, trip.number, to="陈经理", at=_t("17:30"), actor=OFFICER)
    return number
