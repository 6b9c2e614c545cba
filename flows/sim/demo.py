"""A demo campaign shaped like the model operation (Ningbo, early 2020), with synthetic people.

Everything is generated from fixed seeds, and stored with idempotent upserts: building it twice
gives the same data, once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from flows.sim.desk_scenario import build_desk_scenario
from flows.sim.permit_scenario import build_permit_scenario
from models.convoy.lifecycle import Mode
from models.convoy.store import (
    ConvoySpec,
    PassengerRow,
    add_passengers,
    assign_escort,
    upsert_campaign,
    upsert_convoy,
    upsert_enterprise,
    upsert_escort,
)
from models.geo.gazetteer import resolve_place
from models.intake.identity import synthetic_id, synthetic_mobile

CAMPAIGN = "宁波2020复工返岗"
SHANGHAI = ZoneInfo("Asia/Shanghai")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国建华志强海燕宏伟春梅小龙文斌晓东丹凤金花振华"  # noqa: E501

# Enterprises (synthetic names) receiving the workers: name, district, contact.
ENTERPRISES = [
    ("宁波象山示范针织服饰有限公司", "宁波市象山县", "丹东路88号", "王经理"),
    ("象山港湾水产食品有限公司", "宁波市象山县", "石浦镇渔港路16号", "陈主任"),
    ("宁波鄞州甬丰模具有限公司", "宁波市鄞州区", "姜山镇工业园12号", "李经理"),
    ("宁波北仑港城机械制造有限公司", "宁波市北仑区", "新碶街道明州路300号", "周主管"),
    ("余姚阳明电器有限公司", "宁波市余姚市", "城东新区兴业路5号", "孙经理"),
    ("宁海县前童文具有限公司", "宁波市宁海县", "跃龙街道兴海路21号", "叶经理"),
]

ESCORTS = [
    ("NB2001", "张建华", "宁波市公安局象山分局"),
    ("NB2002", "李明", "宁波市公安局象山分局"),
    ("NB2003", "陈志强", "宁波市公安局鄞州分局"),
    ("NB2004", "王海燕", "宁波市公安局北仑分局"),
    ("NB2005", "刘洋", "宁波市公安局铁路公安处"),
    ("NB2006", "周文斌", "宁波市公安局机场分局"),
]


@dataclass(frozen=True)
class DemoConvoy:
    code: str
    mode: Mode
    vehicle: str
    origin: str
    origin_hint: str
    destination: str
    waypoints: tuple[str, ...]
    depart: datetime
    arrive: datetime
    passengers: int
    enterprises: tuple[int, ...]
    escorts: tuple[str, ...]


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


CONVOYS = [
    DemoConvoy(
        "BUS-PC-01", Mode.BUS, "浙B·G2020", "陕西省渭南市蒲城县", "", "宁波市象山县",
        ("洛阳市", "合肥市", "杭州市"), _t("2020-02-20 14:00"), _t("2020-02-21 16:00"),
        45, (0, 1), ("NB2001", "NB2002"),
    ),
    DemoConvoy(
        "TRAIN-XY-01", Mode.TRAIN, "L8021次", "信阳站", "河南", "宁波站",
        ("合肥市", "杭州市"), _t("2020-02-24 09:00"), _t("2020-02-24 19:30"),
        300, (2, 3, 4), ("NB2003", "NB2004", "NB2005"),
    ),
    DemoConvoy(
        "FLIGHT-KWE-01", Mode.FLIGHT, "GJ8501", "贵阳龙洞堡国际机场", "贵州", "宁波栎社国际机场",
        (), _t("2020-02-26 10:30"), _t("2020-02-26 12:50"),
        150, (3, 4, 5), ("NB2006", "NB2001"),
    ),
]  # fmt: skip


def _people(c: DemoConvoy, region: str) -> list[PassengerRow]:
    rng = random.Random(f"demo:{c.code}")
    rows = []
    for _ in range(c.passengers):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        employer = ENTERPRISES[rng.choice(c.enterprises)][0]
        rows.append(
            PassengerRow(
                name=name,
                id_number=synthetic_id(rng, region),
                phone=synthetic_mobile(rng),
                employer=employer,
                origin=c.origin,
            )
        )
    return rows


def build_demo(session: Session) -> list[str]:
    """Create or refresh the demo campaign; returns the convoy codes."""
    upsert_campaign(session, CAMPAIGN, city="宁波市", description="Demo shaped like Ningbo 2020.")
    rng = random.Random("demo:contacts")
    for name, district, street, contact in ENTERPRISES:
        place = resolve_place(district)
        upsert_enterprise(
            session,
            name,
            contact_name=contact,
            contact_phone=synthetic_mobile(rng),
            address=f"{district}{street}",
            district=district,
            lat=place.lat,
            lon=place.lon,
        )
    for badge, name, unit in ESCORTS:
        upsert_escort(session, badge, name=name, unit=unit, phone=synthetic_mobile(rng))
    codes = []
    for c in CONVOYS:
        origin = resolve_place(c.origin, hint=c.origin_hint or None)
        dest = resolve_place(c.destination)
        waypoints = []
        for w in c.waypoints:
            p = resolve_place(w)
            waypoints.append({"name": p.name, "lat": p.lat, "lon": p.lon})
        convoy = upsert_convoy(
            session,
            ConvoySpec(
                code=c.code,
                mode=c.mode,
                vehicle=c.vehicle,
                origin_name=origin.full_name,
                origin=(origin.lat, origin.lon),
                origin_adcode=origin.adcode or next(iter(origin.area_codes), ""),
                destination_name=dest.full_name,
                destination=(dest.lat, dest.lon),
                destination_adcode=dest.adcode or next(iter(dest.area_codes), ""),
                waypoints=waypoints,
                planned_departure=c.depart,
                planned_arrival=c.arrive,
                campaign=CAMPAIGN,
            ),
        )
        for i, badge in enumerate(c.escorts):
            assign_escort(
                session, convoy, upsert_escort(session, badge), "lead" if i == 0 else "escort"
            )
        # Synthetic IDs carry the origin's area code (a station lies in a county or city).
        region = next((c for c in (origin.adcode, *origin.area_codes) if c), "410000")[:6]
        if convoy.stage == "planned":
            add_passengers(session, convoy, _people(c, region), actor="demo")
        codes.append(c.code)
    build_desk_scenario(session, CAMPAIGN, [e[0] for e in ENTERPRISES], SHANGHAI)  # issue 16
    build_permit_scenario(session, CAMPAIGN)  # the vehicle-pass afternoon (50 trucks)
    return codes
