"""Saved maps contain no CDN link, no online tiles and no remote URL (no browser needed)."""

from __future__ import annotations

import json
import re
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import folium
import pytest
from branca.element import Figure
from folium import plugins

from maps.chromium import HeadlessChromium
from maps.offline import (
    OfflineAssetError,
    OfflineMapError,
    asset_urls,
    find_external_urls,
    new_map,
    render_offline,
    save_offline,
)
from models.errors import ConfigurationError, ConvoyOpsError
from tests.maps.samples import build_convoy_map
from tests.maps.urlscan import disallowed_urls, referenced_files

CDN = re.compile(r"cdn\.jsdelivr|cdnjs|code\.jquery|netdna|bootstrapcdn|unpkg|openstreetmap", re.I)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("maps")
    m = build_convoy_map()
    return {
        "inline": save_offline(m, root / "inline" / "map.html"),
        "folder": save_offline(m, root / "folder" / "map.html", mode="folder"),
    }


def test_inline_map_is_one_self_contained_file(saved: dict[str, Path]) -> None:
    html = saved["inline"].read_text(encoding="utf-8")
    assert "<script src=" not in html
    assert '<link rel="stylesheet" href=' not in html
    assert not CDN.search(html)
    assert find_external_urls(html) == []
    assert sorted(p.name for p in saved["inline"].parent.iterdir()) == ["map.html"]


def test_inline_map_scan_finds_no_url_outside_attribution(saved: dict[str, Path]) -> None:
    assert disallowed_urls(saved["inline"].read_text(encoding="utf-8")) == {}


def test_folder_map_and_every_file_it_references_have_no_remote_url(
    saved: dict[str, Path],
) -> None:
    page = saved["folder"]
    html = page.read_text(encoding="utf-8")
    assert not CDN.search(html)
    files = referenced_files(page)
    assert len(files) >= 15
    for file in files:
        assert file.is_file(), file
        assert (page.parent / "assets") in file.parents
        text = file.read_text(encoding="utf-8")
        assert disallowed_urls(text) == {}, file
        if file.suffix == ".css":
            assert find_external_urls(text) == [], file
            for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", text):
                if not url.startswith(("data:", "#")):
                    assert (file.parent / url.split("?")[0]).is_file(), (file, url)
    assert disallowed_urls(html) == {}


def test_folder_mode_copies_licences_and_shares_the_assets_folder(
    saved: dict[str, Path], tmp_path: Path
) -> None:
    assets = saved["folder"].parent / "assets" / "vendor"
    assert (assets / "leaflet" / "LICENSE").is_file()
    assert (assets / "fontawesome" / "webfonts" / "fa-solid-900.woff2").is_file()
    second = save_offline(build_convoy_map(), saved["folder"].parent / "other.html", mode="folder")
    assert second.stat().st_size < 700_000
    assert sorted(p.name for p in saved["folder"].parent.iterdir()) == [
        "assets",
        "map.html",
        "other.html",
    ]


def test_maps_saved_at_once_into_one_folder_share_whole_assets(tmp_path: Path) -> None:
    """Convoy flows publish their maps at the same time into one folder: every save succeeds,
    no temporary file is left, and each shared asset is whole (as one save alone writes it)."""
    maps = [build_convoy_map() for _ in range(8)]
    start = threading.Barrier(len(maps))

    def save(i: int) -> Path:
        start.wait()
        return save_offline(maps[i], tmp_path / "many" / f"map-{i}.html", mode="folder")

    with ThreadPoolExecutor(max_workers=len(maps)) as pool:
        saved = list(pool.map(save, range(len(maps))))
    assert all(p.is_file() for p in saved)
    assert not [p for p in (tmp_path / "many").rglob("*") if p.name.endswith(".tmp")]
    alone = save_offline(build_convoy_map(), tmp_path / "alone" / "map.html", mode="folder")
    expected = {
        p.relative_to(alone.parent): p.read_bytes()
        for p in (alone.parent / "assets").rglob("*")
        if p.is_file()
    }
    got = {
        p.relative_to(tmp_path / "many"): p.read_bytes()
        for p in (tmp_path / "many" / "assets").rglob("*")
        if p.is_file()
    }
    assert got == expected


def test_a_vendored_file_removed_between_two_saves_is_written_again(tmp_path: Path) -> None:
    """The shared assets folder is checked once per process and folder, yet a file removed
    since (someone tidying the folder) comes back with the next map saved there."""
    first = save_offline(build_convoy_map(), tmp_path / "a.html", mode="folder")
    leaflet = first.parent / "assets" / "vendor" / "leaflet" / "leaflet.js"
    kept = leaflet.read_bytes()
    leaflet.unlink()
    save_offline(build_convoy_map(), tmp_path / "b.html", mode="folder")
    assert leaflet.read_bytes() == kept


def test_text_that_looks_like_a_template_is_shown_as_written() -> None:
    """A tooltip is put in the page as written: branca would compile the marker's rendered
    script as a Jinja template again, computing ``{{ 7 * 6 }}`` and failing on ``{% raw %}``."""
    m = folium.Map(location=(30, 120), zoom_start=5)
    folium.Marker((30, 120), tooltip="{{ 7 * 6 }} 号车 {% raw %} 备注").add_to(m)
    html = render_offline(m)
    assert "{{ 7 * 6 }} 号车 {% raw %} 备注" in html and "42 号车" not in html


def test_rendering_outside_render_offline_is_brancas_own() -> None:
    """Only maps rendered by render_offline place their parts as written; anywhere else folium
    and branca render as they always have (here: the tooltip computed)."""
    render_offline(folium.Map(location=(30, 120)))  # this thread has rendered the raw way
    m = folium.Map(location=(30, 120), zoom_start=5)
    folium.Marker((30, 120), tooltip="{{ 7 * 6 }} 号车").add_to(m)
    assert "42 号车" in m.get_root().render()


def test_rendering_does_not_change_the_map() -> None:
    m = folium.Map(location=(30, 120), zoom_start=5)
    plugins.Fullscreen().add_to(m)
    before_children = list(m._children)
    before_js = list(m.default_js)
    html = render_offline(m)
    assert "tile.openstreetmap.org" not in html
    assert list(m._children) == before_children
    assert m.default_js == before_js
    assert "default_js" not in vars(m)
    assert "max_zoom" not in m.options
    plain = m.get_root().render()
    assert "cdn.jsdelivr.net" in plain and "convoy-offline-asset" not in plain


def test_plain_folium_map_gets_basemap_instead_of_openstreetmap() -> None:
    m = folium.Map(location=(30, 120), zoom_start=5)
    html = render_offline(m)
    assert "openstreetmap" not in html.lower()
    assert "L.tileLayer" not in html
    assert "convoy-basemap-province" in html
    assert '"maxZoom": 18' in html


def test_own_tile_server_replaces_openstreetmap() -> None:
    m = folium.Map(location=(30, 120), zoom_start=5)
    url = "http://10.1.2.3/tiles/{z}/{x}/{y}.png"
    html = render_offline(m, tile_url=url, tile_attribution="市局瓦片")
    assert url in html and json.dumps("市局瓦片")[1:-1] in html
    assert "openstreetmap" not in html.lower()
    assert "convoy-basemap" not in html


def test_new_map_with_tile_url_has_tiles_and_no_basemap() -> None:
    url = "http://tiles.local/{z}/{x}/{y}.png"
    m = new_map((30, 120), 6, tile_url=url)
    html = render_offline(m, tile_url=url)
    assert html.count("L.tileLayer(") == 1
    assert "convoy-basemap" not in html
    overlay = new_map((30, 120), 6, tile_url=url, basemap="city", basemap_provinces=["浙江"])
    html = render_offline(overlay, tile_url=url)
    assert '"330200"' in html  # Ningbo's adcode, in the embedded prefecture layer
    assert '"filter": ["33"]' in html  # drawn for Zhejiang only
    assert '"fill": false' in html  # prefecture borders only, over tiles


def test_new_map_without_basemap_stays_without_one() -> None:
    html = render_offline(new_map((30, 120), 5, basemap="none"))
    assert "convoy-basemap" not in html and "L.tileLayer" not in html


def test_other_online_tiles_are_refused_with_a_sentence() -> None:
    m = folium.Map(location=(30, 120), zoom_start=5, tiles=None)
    folium.TileLayer("https://tiles.example.com/{z}/{x}/{y}.png", attr="Example").add_to(m)
    with pytest.raises(OfflineMapError, match=r"tiles\.example\.com.*not reachable offline"):
        render_offline(m)


def test_bad_tile_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="is not a tile template"):
        new_map((30, 120), 5, tile_url="http://tiles.local/tile.png")


def test_unknown_asset_url_raises_naming_the_url() -> None:
    m = new_map((30, 120), 5)
    plugins.Draw().add_to(m)  # leaflet.draw is not vendored
    with pytest.raises(OfflineAssetError) as info:
        render_offline(m)
    message = str(info.value)
    assert "https://cdnjs.cloudflare.com/ajax/libs/leaflet.draw/1.0.2/leaflet.draw.js" in message
    assert message.endswith(".") and message[0].isupper()
    assert isinstance(info.value, ConvoyOpsError)
    with pytest.raises(OfflineAssetError):
        asset_urls(m)


def test_link_added_to_the_header_is_remapped_or_refused() -> None:
    m = new_map((30, 120), 5)
    figure = m.get_root()
    assert isinstance(figure, Figure)
    figure.header.add_child(
        folium.JavascriptLink("https://code.jquery.com/jquery-3.7.1.min.js"), name="extra"
    )
    html = render_offline(m, mode="folder")
    assert html.count("assets/vendor/jquery/jquery.min.js") == 1  # deduplicated
    figure.header.add_child(folium.CssLink("https://example.com/x.css"), name="x")
    with pytest.raises(OfflineAssetError, match=r"https://example\.com/x\.css"):
        render_offline(m)


def test_remote_image_in_a_popup_is_refused() -> None:
    m = new_map((30, 120), 5)
    folium.Marker((30, 120), popup=folium.Popup('<img src="https://example.com/a.png">')).add_to(m)
    with pytest.raises(OfflineAssetError, match=r"https://example\.com/a\.png"):
        render_offline(m)


def test_asset_urls_lists_every_cdn_url_of_the_sample_map() -> None:
    urls = asset_urls(build_convoy_map())
    assert len(urls) >= 20
    assert urls["https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"] == (
        "vendor/leaflet/leaflet.js"
    )
    assert all(not path.startswith("http") for path in urls.values())


def test_find_external_urls_only_reports_loads() -> None:
    html = (
        '<a href="https://leafletjs.com">Leaflet</a><script src="https://x.org/a.js"></script>'
        '<link rel="stylesheet" href="//cdn.example/b.css"/><style>@import "http://c/d.css";'
        ".a{background:url(https://e/f.png)} .b{background:url(images/local.png)}</style>"
    )
    assert find_external_urls(html) == [
        "https://x.org/a.js",
        "//cdn.example/b.css",
        "https://e/f.png",
        "http://c/d.css",
    ]


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="inline"):
        render_offline(new_map((30, 120), 5), mode="zip")  # type: ignore[arg-type]


def test_folder_map_without_its_assets_says_what_is_missing(
    browser: HeadlessChromium, saved: dict[str, Path], tmp_path: Path
) -> None:
    """A folder-mode map copied alone (no assets/ beside it) shows one line naming the missing
    file and what to do, instead of a blank page; with its assets the line never appears."""
    alone = tmp_path / "copied" / "map.html"
    alone.parent.mkdir()
    shutil.copyfile(saved["folder"], alone)
    probe = """(() => {
        const bar = document.getElementById("convoy-missing-assets");
        return bar ? {text: bar.innerText, height: bar.getBoundingClientRect().height} : null;
    })()"""
    page = browser.open(alone.as_uri(), settle_ms=200)
    try:
        found = page.evaluate(probe)
    finally:
        page.close()
    assert found is not None
    assert found["text"].startswith("地图缺少 assets/vendor/leaflet/leaflet.js 等 ")
    assert "assets 文件夹" in found["text"] and "--inline" in found["text"]
    assert "\n" not in found["text"] and found["height"] < 80
    page = browser.open(saved["folder"].as_uri(), settle_ms=200)
    try:
        assert page.evaluate(probe) is None
    finally:
        page.close()
