"""The vehicle passes (通行证) of a simulated campaign, through the real permit workflow.

At scale 1, 7,092 passes for 1,522 units (construction enterprises in 宁波's districts), as in
the model case: each application is filed, its site surveyed, its route planned, the pass
issued and delivered door to door (``models.permits.lifecycle``, every step recorded and
audited). Most are delivered the day they were filed; about one in twelve the next morning
(same-day service missed). Seeded like the rest of the campaign; 500 passes per transaction.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from config import Settings, get_settings
from flows.sim.campaign import DISTRICTS, SHANGHAI, CampaignPlan
from models.db import session_scope
from models.geo.gazetteer import resolve_place
from models.intake.identity import synthetic_mobile
from models.permits.lifecycle import (
    Via,
    apply_for_permit,
    deliver_permit,
    issue_permit,
    plan_route,
    survey_site,
)

PASSES_AT_1X = 7092
UNITS_AT_1X = 1522
CHUNK = 500
_TRUCKS = ("渣土车", "混凝土搅拌车", "工程自卸车", "吊车", "平板运输车")
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def pass_counts(scale: float) -> tuple[int, int]:
    """(passes, units) at ``scale``."""
    units = max(1, round(UNITS_AT_1X * scale))
    return max(units, round(PASSES_AT_1X * scale)), units


def issue_passes(plan: CampaignPlan, settings: Settings | None = None) -> int:
    """File and carry through every pass of the plan's campaign; returns how many were
    delivered. Does nothing when the campaign has its passes already."""
    from sqlalchemy import func, select
    from sqlmodel import col

    from models.convoy.tables import Campaign
    from models.permits.tables import PermitApplication

    settings = settings or get_settings()
    with session_scope(settings) as session:
        have = session.execute(
            select(func.count())
            .select_from(PermitApplication)
            .join(Campaign)
            .where(col(Campaign.name) == plan.name)
        ).scalar_one()
    if have:
        return 0
    rng = random.Random(f"passes:{plan.seed}:{plan.scale:g}")
    n, units = pass_counts(plan.scale)
    places = {d: resolve_place(d, hint="宁波") for d in DISTRICTS}
    names = [f"宁波{rng.choice(DISTRICTS)[:2]}{k:04d}建设工程有限公司" for k in range(units)]
    delivered = 0
    for start in range(0, n, CHUNK):
        with session_scope(settings) as session:
            for k in range(start, min(n, start + CHUNK)):
                unit = names[k % units]
                district = DISTRICTS[k % len(DISTRICTS)]
                p = places[district]
                day = date(2020, 2, 10) + timedelta(days=rng.randrange(28))
                at = datetime(day.year, day.month, day.day, rng.randint(8, 15), rng.randrange(60),
                              tzinfo=SHANGHAI)  # fmt: skip
                app = apply_for_permit(
                    session,
                    enterprise=unit,
                    plate=f"浙B·{_LETTERS[k // 10000 % len(_LETTERS)]}{k % 10000:04d}",
                    vehicle_type=rng.choice(_TRUCKS),
                    site_name=f"{district}工地{k % 97 + 1}号",
                    valid_from=day,
                    valid_until=day + timedelta(days=40),
                    contact_name="项目经理",
                    contact_phone=synthetic_mobile(rng),
                    lat=p.lat + rng.uniform(-0.05, 0.05),
                    lon=p.lon + rng.uniform(-0.05, 0.05),
                    campaign=plan.name,
                    at=at,
                    actor="simulated applicant",
                    settings=settings,
                )
                key = app.id or 0
                survey_site(session, key, ok=True, at=at + timedelta(hours=1), actor="勘查民警")
                plan_route(session, key, [Via(lat=p.lat, lon=p.lon)], at=at + timedelta(hours=1.5),
                           actor="路线规划", settings=settings)  # fmt: skip
                issue_permit(session, key, at=at + timedelta(hours=2), actor="签发民警",
                             settings=settings)  # fmt: skip
                late = rng.random() < 1 / 12
                when = (
                    datetime(day.year, day.month, day.day, 10, 0, tzinfo=SHANGHAI)
                    + timedelta(days=1)
                    if late
                    else at + timedelta(hours=3)
                )
                deliver_permit(session, key, to="项目经理", at=when, actor="送证民警")
                delivered += 1
    return delivered
