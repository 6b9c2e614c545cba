"""A whole operation like the model case (Ningbo, early 2020), generated from a seed.

At scale 1: 13 origins in 8 provinces, 43 charter trips (15 trains of 1,000–1,400 workers,
11 flights of 150–200, 17 buses of 35–45: about 20,000 workers), about 62 officers and 300
enterprises in 宁波's districts. Scale N multiplies the trips, the officers and the enterprises
(the sizes of the trips stay); a scale below 1 also shrinks each trip (× scale, at least 8
people), so a test can run a few small convoys.

Everything is written as the field writes it — the enterprise list and the manifests as files:
CSV in GBK, CSV in UTF-8 with a BOM, XLSX with a title row above the header — with the dirt of
real lists: ID numbers with a wrong check digit, phones that are not mobiles, employers spelt a
little differently (matched) or wrongly (rejected), rows pasted twice; and declared fevers,
positive tests and red codes. The same seed and scale give the same files, byte for byte
(XLSX aside, whose zip carries a time stamp), and the same figures.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from flows.sim.demo import GIVEN, SURNAMES
from models.convoy.lifecycle import Mode
from models.errors import ValidationError
from models.intake.identity import synthetic_id, synthetic_mobile

SHANGHAI = ZoneInfo("Asia/Shanghai")
CITY = "宁波市"
DISTRICTS = ("海曙区", "江北区", "北仑区", "镇海区", "鄞州区", "奉化区", "余姚市", "慈溪市",
             "象山县", "宁海县")  # fmt: skip
UNITS = ("海曙分局", "江北分局", "北仑分局", "镇海分局", "鄞州分局", "奉化分局", "余姚市公安局",
         "慈溪市公安局", "象山县公安局", "宁海县公安局", "铁路公安处", "机场分局")  # fmt: skip
_WORDS = "甬港明海天华东新金恒宏盛达宝利丰泰源兴隆"
_TRADES = ("电子", "机械", "模具", "服饰", "塑业", "五金", "电器", "汽配", "纺织", "食品",
           "文具", "家电", "照明", "化纤", "轴承")  # fmt: skip


@dataclass(frozen=True)
class Origin:
    """Where trips start: a station, an airport or (buses) a county; ``region`` is the area
    code the workers' ID numbers carry."""

    abbr: str
    place: str
    hint: str
    province: str
    region: str
    mode: Mode
    hours: float  # planned travel time to 宁波


ORIGINS = (
    Origin("XY", "信阳站", "河南", "河南", "411500", Mode.TRAIN, 10.5),
    Origin("SQ", "商丘站", "河南", "河南", "411400", Mode.TRAIN, 9.0),
    Origin("HF", "合肥南站", "安徽", "安徽", "340100", Mode.TRAIN, 5.0),
    Origin("NC", "南昌西站", "江西", "江西", "360100", Mode.TRAIN, 7.5),
    Origin("CD", "成都东站", "四川", "四川", "510100", Mode.TRAIN, 22.0),
    Origin("GY", "贵阳北站", "贵州", "贵州", "520100", Mode.TRAIN, 15.0),
    Origin("KM", "昆明南站", "云南", "云南", "530100", Mode.TRAIN, 20.0),
    Origin("LZ", "兰州西站", "甘肃", "甘肃", "620100", Mode.TRAIN, 24.0),
    Origin("CGO", "郑州新郑国际机场", "河南", "河南", "410100", Mode.FLIGHT, 2.0),
    Origin("CTU", "成都双流国际机场", "四川", "四川", "510100", Mode.FLIGHT, 2.8),
    Origin("KWE", "贵阳龙洞堡国际机场", "贵州", "贵州", "520100", Mode.FLIGHT, 2.3),
    Origin("PC", "陕西省渭南市蒲城县", "", "陕西", "610526", Mode.BUS, 26.0),
    Origin("LQ", "安徽省阜阳市临泉县", "", "安徽", "341221", Mode.BUS, 11.0),
)
TRIPS_AT_1X = {Mode.TRAIN: 15, Mode.FLIGHT: 11, Mode.BUS: 17}
SIZES = {Mode.TRAIN: (1000, 1400), Mode.FLIGHT: (150, 200), Mode.BUS: (35, 45)}
ESCORTS_PER_TRIP = {Mode.TRAIN: 2, Mode.FLIGHT: 1, Mode.BUS: 1}
DESTINATION = {Mode.TRAIN: "宁波站", Mode.FLIGHT: "宁波栎社国际机场"}
FORMATS = ("csv-gbk", "xlsx-title", "csv-utf8-bom")
MANIFEST_HEADER = ("序号", "姓名", "身份证号", "手机号", "用工企业", "户籍地", "健康码", "核酸结果",
                   "核酸检测时间", "体温")  # fmt: skip
ENTERPRISE_HEADER = ("企业名称", "所在区县", "地址", "联系人", "联系电话")


@dataclass(frozen=True)
class Dirt:
    """Shares of rows with each kind of trouble (per row, drawn independently)."""

    bad_checksum: float = 0.003
    bad_phone: float = 0.005
    employer_variant: float = 0.02  # spelt differently, still one enterprise: matched
    employer_unknown: float = 0.002  # a typo: no enterprise fits, rejected
    duplicate: float = 0.003
    fever: float = 0.002
    positive: float = 0.0005
    red_code: float = 0.001


@dataclass
class Trip:
    code: str
    origin: Origin
    mode: Mode
    vehicle: str
    destination: str
    depart: datetime
    arrive: datetime
    size: int
    enterprises: list[str]
    escorts: list[str]
    fmt: str
    incident: str = ""  # "late" (a late train) or "off_route" (a bus leaving its corridor)

    @property
    def filename(self) -> str:
        return f"{self.code}.xlsx" if self.fmt.startswith("xlsx") else f"{self.code}.csv"


@dataclass
class Enterprise:
    name: str
    district: str
    address: str
    contact: str
    phone: str


@dataclass
class Escort:
    badge: str
    name: str
    unit: str
    phone: str


@dataclass
class CampaignPlan:
    name: str
    scale: float
    seed: int
    enterprises: list[Enterprise]
    escorts: list[Escort]
    trips: list[Trip]
    dirt: Dirt = field(default_factory=Dirt)

    @property
    def provinces(self) -> set[str]:
        return {t.origin.province for t in self.trips}

    @cached_property
    def id_shares(self) -> dict[str, range]:
        """Each trip's share of the ID numbers' sequence digits of its origin's region (its
        manifest draws from it), so that no one is on two manifests by chance: whether the
        second import would refuse such a person depends on whether the first convoy has
        closed by then, and the figures must not depend on timing (same seed, same figures)."""
        by_region: dict[str, list[str]] = {}
        for t in self.trips:
            by_region.setdefault(t.origin.region, []).append(t.code)
        shares: dict[str, range] = {}
        for region, codes in by_region.items():
            width = 1000 // len(codes)
            if width < 1:  # not at the scales allowed (at most about 330 trips share a region)
                raise ValidationError(f"More than 1,000 trips leave from region {region}.")
            for k, code in enumerate(codes):
                shares[code] = range(k * width, (k + 1) * width)
        return shares


def default_name(scale: float, seed: int) -> str:
    return f"宁波返岗模拟-{scale:g}x-s{seed}"


def _person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def plan_campaign(scale: float, seed: int = 2020, name: str | None = None) -> CampaignPlan:
    """The operation at ``scale`` (see the module doc); no files, no database."""
    if not 0 < scale <= 100:
        from models.errors import ValidationError

        raise ValidationError(f"The scale must be above 0 and at most 100, not {scale:g}.")
    rng = random.Random(f"campaign:{seed}:{scale:g}")
    n_ent = max(6, round(300 * scale))
    combos = [f"{a}{b}" for a in _WORDS for b in _WORDS if a != b]
    picks = rng.sample([(w, t) for w in combos for t in _TRADES], n_ent)
    enterprises = []
    for i, (words, trade) in enumerate(picks):
        district = DISTRICTS[i % len(DISTRICTS)]
        suffix = "股份有限公司" if i % 9 == 0 else "有限公司"
        enterprises.append(
            Enterprise(
                f"宁波{words}{trade}{suffix}",
                district,
                f"{district}{rng.choice('东南西北')}环路{rng.randint(1, 999)}号",
                _person_name(rng) + rng.choice(("经理", "主任", "主管")),
                synthetic_mobile(rng),
            )
        )
    trips: list[Trip] = []
    escorts: list[Escort] = []
    start = datetime(2020, 2, 18, tzinfo=SHANGHAI)
    for mode, at_1x in TRIPS_AT_1X.items():
        n = max(1, round(at_1x * scale))
        origins = [o for o in ORIGINS if o.mode is mode]
        for k in range(n):
            o = origins[k % len(origins)]
            code = f"{mode.value.upper()}-{o.abbr}-{k // len(origins) + 1:02d}"
            lo, hi = SIZES[mode]
            size = rng.randint(lo, hi)
            if scale < 1:
                size = max(8, round(size * scale))
            day = start + timedelta(days=(len(trips) * 7) % 19)
            depart = day + timedelta(hours=rng.choice((8, 9, 10, 13, 14, 19)))
            arrive = depart + timedelta(hours=o.hours)
            share = {Mode.TRAIN: 20, Mode.FLIGHT: 6, Mode.BUS: 2}[mode]
            chosen = [e.name for e in rng.sample(enterprises, min(share, len(enterprises)))]
            dest = DESTINATION.get(mode) or (
                CITY + next(e.district for e in enterprises if e.name == chosen[0])
            )
            crew = ESCORTS_PER_TRIP[mode] + (1 if mode is Mode.TRAIN and size > 1250 else 0)
            badges = []
            for _ in range(crew):
                badge = f"NB{5001 + len(escorts)}"
                escorts.append(
                    Escort(
                        badge,
                        _person_name(rng),
                        f"宁波市公安局{rng.choice(UNITS)}",
                        synthetic_mobile(rng),
                    )
                )
                badges.append(badge)
            vehicle = {
                Mode.TRAIN: f"L{8000 + len(trips)}次",
                Mode.FLIGHT: f"GJ{8500 + len(trips)}",
                Mode.BUS: f"浙B·G{2000 + len(trips)}",
            }[mode]
            trips.append(
                Trip(
                    code,
                    o,
                    mode,
                    vehicle,
                    dest,
                    depart,
                    arrive,
                    size,
                    chosen,
                    badges,
                    FORMATS[len(trips) % len(FORMATS)],
                )
            )
    late = next((t for t in trips if t.mode is Mode.TRAIN), None)
    if late is not None:
        late.incident = "late"
    off = next((t for t in trips if t.mode is Mode.BUS), None)
    if off is not None:
        off.incident = "off_route"
    return CampaignPlan(name or default_name(scale, seed), scale, seed, enterprises, escorts, trips)


# -- writing the files ------------------------------------------------------------------------


def _variant(name: str, rng: random.Random) -> str:
    """The same employer as a clerk might type it: without the legal form, with a space or
    in full-width characters; all still fit one enterprise."""
    how = rng.randrange(3)
    if how == 0:
        return name.removesuffix("股份有限公司").removesuffix("有限公司")
    if how == 1:
        return f"{name[:2]} {name[2:]}"
    return name.replace("有限公司", "有限公司 ").replace("宁波", "宁波　")


def _typo(name: str) -> str:
    return name[:3] + "了" + name[4:]


def manifest_rows(plan: CampaignPlan, trip: Trip) -> Iterator[list[str]]:
    """The rows of one trip's manifest (header excluded), as the field fills them in."""
    rng = random.Random(f"manifest:{plan.seed}:{plan.scale:g}:{trip.code}")
    d = plan.dirt
    seqs = plan.id_shares[trip.code]
    taken: set[str] = set()
    seat = 0
    for _ in range(trip.size):
        seat += 1
        idn = synthetic_id(rng, trip.origin.region, seqs=seqs)
        while idn in taken:  # the same person twice is the dirt below, never by chance
            idn = synthetic_id(rng, trip.origin.region, seqs=seqs)
        taken.add(idn)
        if rng.random() < d.bad_checksum:
            idn = idn[:-1] + ("0" if idn[-1] != "0" else "1")
        phone = synthetic_mobile(rng)
        if rng.random() < d.bad_phone:
            phone = rng.choice(("1" + phone[2:], "021-" + phone[3:], phone[:7]))
        employer = rng.choice(trip.enterprises)
        r = rng.random()
        if r < d.employer_unknown:
            employer = _typo(employer)
        elif r < d.employer_unknown + d.employer_variant:
            employer = _variant(employer, rng)
        code, nat, temp = "绿", "阴性", ""
        r = rng.random()
        if r < d.fever:
            temp = f"{rng.uniform(37.5, 38.6):.1f}"
        elif r < d.fever + d.positive:
            nat = "阳性"
        elif r < d.fever + d.positive + d.red_code:
            code = "红"
        nat_at = trip.depart - timedelta(hours=rng.randint(8, 40))
        row = [str(seat), _person_name(rng), idn, phone, employer, trip.origin.place, code, nat,
               nat_at.strftime("%Y-%m-%d %H:%M"), temp]  # fmt: skip
        yield row
        if rng.random() < d.duplicate:  # pasted twice, under the next number
            seat += 1
            yield [str(seat), *row[1:]]


def _csv(path: Path, header: tuple[str, ...], rows: Iterator[list[str]], encoding: str) -> None:
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def _xlsx(path: Path, title: str, header: tuple[str, ...], rows: Iterator[list[str]]) -> None:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("名单")
    ws.append([title])
    ws.append(list(header))
    for row in rows:
        ws.append(row)
    wb.save(path)


def write_manifest(plan: CampaignPlan, trip: Trip, folder: Path) -> Path:
    """One trip's manifest in the trip's format; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / trip.filename
    rows = manifest_rows(plan, trip)
    if trip.fmt == "csv-gbk":
        _csv(path, MANIFEST_HEADER, rows, "gbk")
    elif trip.fmt == "csv-utf8-bom":
        _csv(path, MANIFEST_HEADER, rows, "utf-8-sig")
    else:  # no 序号 column: the seat is the row's number in the sheet
        title = f"宁波市返岗复工包车人员名单（{trip.code}，{trip.origin.place}）"
        _xlsx(path, title, MANIFEST_HEADER[1:], (r[1:] for r in rows))
    return path


def write_enterprises(plan: CampaignPlan, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "enterprises.xlsx"
    rows = ([e.name, e.district, e.address, e.contact, e.phone] for e in plan.enterprises)
    _xlsx(path, f"{plan.name} 用工企业名单", ENTERPRISE_HEADER, rows)
    return path
