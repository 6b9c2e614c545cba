"""The embedded boundary basemap: complete, compact, correctly placed, topologically clean."""

from __future__ import annotations

import gzip
import json
import math
import re
from pathlib import Path
from typing import Any

import branca.element
import folium
import pytest

from maps.basemap import (
    BASEMAP_DIR,
    add_basemap,
    asset_text,
    district_provinces,
    has_basemap,
    load_boundaries,
    province_code,
    region_at,
)
from maps.offline import render_offline, save_offline
from models.errors import ConfigurationError

Polygon = list[list[list[float]]]
SOME = [
    "33",
    "61",
    "41",
    "52",
    "65",
]  # 浙江, 陕西, 河南, 贵州, 新疆: the checks that read every ring


def _inside_ring(lon: float, lat: float, ring: list[list[float]]) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        (xi, yi), (xj, yj) = ring[i], ring[j]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _inside(lon: float, lat: float, feature: dict[str, Any]) -> bool:
    for polygon in feature["geometry"]["coordinates"]:
        if _inside_ring(lon, lat, polygon[0]) and not any(
            _inside_ring(lon, lat, hole) for hole in polygon[1:]
        ):
            return True
    return False


def _region_at(level: str, lat: float, lon: float, **kwargs: Any) -> str:
    hits = [
        f["properties"]["name"]
        for f in load_boundaries(level, SOME if level == "district" else None)[  # type: ignore[arg-type]
            "features"
        ]
        if _inside(lon, lat, f)
    ]
    assert len(hits) == 1, hits
    return hits[0]


def test_province_layer_is_complete_and_small() -> None:
    raw = gzip.decompress((BASEMAP_DIR / "china-provinces.geojson.gz").read_bytes())
    assert len(raw) <= 400_000
    features = load_boundaries("province")["features"]
    names = {f["properties"]["name"] for f in features}
    assert len(features) == 34
    assert {"台湾省", "香港特别行政区", "澳门特别行政区", "浙江省", "陕西省", "海南省"} <= names
    codes = [f["properties"]["adcode"] for f in features]
    assert len(set(codes)) == 34 and all(len(c) == 6 and c.isdigit() for c in codes)
    shorts = {f["properties"]["short"] for f in features}
    assert {"浙江", "内蒙古", "广西", "新疆", "香港"} <= shorts


@pytest.mark.parametrize(
    ("level", "lat", "lon", "expected"),
    [
        ("province", 29.874, 121.550, "浙江省"),  # Ningbo
        ("province", 34.500, 109.510, "陕西省"),  # Weinan
        ("province", 25.033, 121.565, "台湾省"),  # Taipei
        ("province", 22.280, 114.160, "香港特别行政区"),
        ("province", 26.580, 106.710, "贵州省"),  # Guiyang
        ("city", 29.874, 121.550, "宁波市"),
        ("city", 30.274, 120.155, "杭州市"),
        ("city", 34.500, 109.510, "渭南市"),
        ("district", 29.477, 121.869, "象山县"),
        ("district", 34.956, 109.581, "蒲城县"),
    ],
)
def test_known_places_fall_in_the_right_region(
    level: str, lat: float, lon: float, expected: str
) -> None:
    assert _region_at(level, lat, lon) == expected


def test_label_points_lie_inside_their_region() -> None:
    for level in ("province", "city", "district"):
        for feature in load_boundaries(level, SOME)["features"]:  # type: ignore[arg-type]
            lon, lat = feature["properties"]["label"]
            assert _inside(lon, lat, feature), (level, feature["properties"]["name"])


def test_small_islands_and_boundary_lines_are_kept() -> None:
    provinces = {f["properties"]["name"]: f for f in load_boundaries("province")["features"]}
    assert len(provinces["海南省"]["geometry"]["coordinates"]) > 100  # South China Sea islands
    taiwan_points = [
        pt for poly in provinces["台湾省"]["geometry"]["coordinates"] for pt in poly[0]
    ]
    assert any(math.dist(pt, (123.47, 25.74)) < 0.1 for pt in taiwan_points)  # Diaoyu Dao
    assert any(math.dist(pt, (124.56, 25.92)) < 0.1 for pt in taiwan_points)  # Chiwei Yu
    lines = load_boundaries("lines")["features"][0]["geometry"]["coordinates"]
    assert any(min(lat for _, lat in line) < 10 for line in lines)  # the southern dashes


def test_neighbours_share_their_simplified_border() -> None:
    """Borders are simplified once per shared arc, so neighbours keep identical vertices."""
    provinces = {f["properties"]["name"]: f for f in load_boundaries("province")["features"]}

    def vertices(name: str) -> set[tuple[float, float]]:
        polys = provinces[name]["geometry"]["coordinates"]
        return {tuple(pt) for poly in polys for ring in poly for pt in ring}  # type: ignore[misc]

    for a, b in [("浙江省", "福建省"), ("陕西省", "河南省"), ("浙江省", "安徽省")]:
        assert len(vertices(a) & vertices(b)) >= 5, (a, b)


def test_rings_are_closed_and_in_wgs84_range() -> None:
    for level in ("province", "city", "district"):
        for feature in load_boundaries(level, SOME)["features"]:  # type: ignore[arg-type]
            for polygon in feature["geometry"]["coordinates"]:
                for ring in polygon:
                    assert ring[0] == ring[-1] and len(ring) >= 4
                    assert all(73 < x < 136 and 3 < y < 54 for x, y in ring)


def test_province_filter_and_codes() -> None:
    assert province_code("浙江省") == province_code("浙江") == province_code("330000") == "33"
    zhejiang = load_boundaries("city", ["浙江"])["features"]
    assert len(zhejiang) == 11
    assert all(f["properties"]["adcode"].startswith("33") for f in zhejiang)
    shaanxi = {f["properties"]["name"] for f in load_boundaries("district", ["陕西"])["features"]}
    assert "蒲城县" in shaanxi and len(shaanxi) > 100
    with pytest.raises(ConfigurationError, match="not a province name"):
        province_code("火星")
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_boundaries("township")  # type: ignore[arg-type]


def test_counties_ship_for_every_province_of_the_campaigns() -> None:
    """Counties of every mainland province ship, so the origin provinces of any campaign
    (陕西, 河南, 贵州, 四川 …) have them, not only Zhejiang."""
    shipped = district_provinces()
    assert len(shipped) >= 31
    assert {"33", "61", "41", "52", "51", "42", "34"} <= set(shipped)


@pytest.mark.parametrize(
    ("level", "lat", "lon", "expected"),
    [
        ("province", 29.874, 121.550, "浙江省"),
        ("city", 29.874, 121.550, "宁波市"),
        ("district", 29.477, 121.869, "象山县"),
        ("district", 34.956, 109.581, "蒲城县"),
        ("city", 32.147, 114.091, "信阳市"),  # 信阳站
        ("city", 26.538, 106.801, "贵阳市"),  # 贵阳龙洞堡国际机场
    ],
)
def test_region_at_finds_the_region_of_a_point(
    level: str, lat: float, lon: float, expected: str
) -> None:
    found = region_at(level, lat, lon)  # type: ignore[arg-type]
    assert found is not None and found["name"] == expected
    assert region_at("province", 10.0, 160.0) is None  # the Pacific


def _embedded(html: str) -> dict[str, Any]:
    """The layer data the page's basemap scripts store (``window.convoyBasemap[KEY] = …``)."""
    decoder = json.JSONDecoder()
    found = {}
    for match in re.finditer(r'window\.convoyBasemap \|\| \{\}\)\["([\w-]+)"\] = ', html):
        data, _end = decoder.raw_decode(html, match.end())
        found[match.group(1)] = data
    return found


def test_basemap_layers_are_shared_scripts_embedded_only_inline(tmp_path: Path) -> None:
    """The page links the layer scripts (one copy per folder) in folder mode and embeds them
    only in an inline map; the data is the shipped data as it is."""
    m = folium.Map(location=(30, 120), zoom_start=5, tiles=None)
    group = add_basemap(m, counties=["浙江", "61"], places=[(29.874, 121.55)])
    assert has_basemap(m)
    folder = render_offline(m, mode="folder")
    scripts = re.findall(r'<script src="(assets/basemap/[^"]+)"', folder)
    assert sorted(scripts) == [
        "assets/basemap/china-boundary-lines.js",
        "assets/basemap/china-cities.js",
        "assets/basemap/china-provinces.js",
        "assets/basemap/districts-33.js",
        "assets/basemap/districts-61.js",
    ]
    assert _embedded(folder) == {} and len(folder) < 60_000
    assert group.get_name() in folder
    inline = render_offline(m)
    data = _embedded(inline)
    assert data["province"] == load_boundaries("province")
    assert data["lines"] == load_boundaries("lines")
    assert data["district-61"] == load_boundaries("district", ["61"])
    assert '"dashArray": "6 4"' in inline and '"fillColor": "#f6f3ea"' in inline
    assert '"330200": 4' in inline and '"330100": 6' in inline  # 宁波 from 4, 杭州 (capital) 6
    saved = save_offline(m, tmp_path / "a" / "map.html", mode="folder")
    shared = saved.parent / "assets" / "basemap" / "districts-33.js"
    assert shared.read_text(encoding="utf-8") == asset_text("basemap/districts-33.js")
    second = save_offline(m, saved.parent / "other.html", mode="folder")
    assert second.stat().st_size < 60_000  # the data stays in the shared files


def test_basemap_options_and_errors() -> None:
    m = folium.Map(location=(30, 120), zoom_start=5, tiles=None)
    folium.Marker((30, 120)).add_to(m)
    group = add_basemap(m, "district", name="县界", show=False, index=0, labels=False)
    assert next(iter(m._children.values())) is group
    assert group.layer_name == "县界"
    html = render_offline(m)
    assert f"{group.get_name()}.addTo({m.get_name()})" not in html  # show=False
    assert '"labels": false' in html and "district-33" in html
    city = folium.Map(location=(30, 120), zoom_start=7, tiles=None)
    add_basemap(city, "city", provinces=["浙江", "61"], fill_opacity=0)
    html = render_offline(city)
    assert '"filter": ["33", "61"]' in html and "china-boundary-lines" not in html
    with pytest.raises(ConfigurationError, match="does not exist"):
        add_basemap(m, "township")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="not a province name"):
        add_basemap(m, "city", provinces=["火星"])
    with pytest.raises(ConfigurationError, match="no basemap layer"):
        asset_text("basemap/atlantis.js")


def test_basemap_compiles_no_templates_per_map(monkeypatch: pytest.MonkeyPatch) -> None:
    """branca compiles a jinja template from every rendered macro's output (for a GeoJson,
    with all its data); the basemap elements hand their output to the page as it is."""
    compiled = []

    class CountingTemplate(branca.element.Template):  # type: ignore[misc]
        def __new__(cls, source: Any, *args: Any, **kwargs: Any) -> Any:
            compiled.append(source)
            return super().__new__(cls, source, *args, **kwargs)

    monkeypatch.setattr(branca.element, "Template", CountingTemplate)

    def compilations(**kwargs: Any) -> int:
        compiled.clear()
        m = folium.Map(location=(30, 120), zoom_start=5, tiles=None)
        if kwargs:
            add_basemap(m, **kwargs)
        m.get_root().render()
        return len(compiled)

    bare = compilations()
    assert compilations(level="province") <= bare + 3  # only folium's FeatureGroup
    assert compilations(level="city", provinces=["33"]) <= bare + 3


def test_embedded_text_cannot_close_the_script() -> None:
    from maps.boundaries import _script_safe

    text = json.dumps({"name": "</script><!-- & \u2028"}, ensure_ascii=False)
    safe = _script_safe(text)
    assert not any(c in safe for c in "<>&\u2028")
    assert json.loads(safe) == json.loads(text)
