"""Saved maps render in headless Chromium with every network host unreachable."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import folium
import pytest

from maps.chromium import ChromiumPage, HeadlessChromium, screenshot
from maps.offline import save_offline
from tests.maps.mapcheck import problems
from tests.maps.samples import EXPECTED, ROUTE_CLASS, TRACK_CLASS, build_convoy_map

DOM_PROBE = f"""(() => {{
    const q = (sel) => document.querySelectorAll(sel).length;
    const fonts = [...document.fonts];
    return {{
        leaflet: typeof window.L,
        leafletVersion: window.L && L.version,
        markerIcons: q(".leaflet-marker-pane > :not(.marker-cluster)"),
        clusters: q(".leaflet-marker-pane .marker-cluster"),
        clusterCounts: [...document.querySelectorAll(".marker-cluster span")]
            .map((s) => Number(s.textContent)),
        routes: q("path.{ROUTE_CLASS}"),
        tracks: q("path.{TRACK_CLASS}"),
        basemapPaths: q(".leaflet-convoy-basemap-pane path.leaflet-interactive"),
        provinceLabels: q(".convoy-basemap-label.convoy-basemap-province"),
        fullscreen: q(".leaflet-control-zoom-fullscreen"),
        layerControl: q(".leaflet-control-layers"),
        layerNames: [...document.querySelectorAll(".leaflet-control-layers-overlays span")]
            .map((s) => s.textContent.trim()),
        timeControl: q(".leaflet-bar-timecontrol"),
        timeDimension: typeof L.TimeDimension,
        awesomeIcons: q(".awesome-marker i.fa-bus") + q(".awesome-marker i.glyphicon-info-sign"),
        fontErrors: fonts.filter((f) => f.status === "error").map((f) => f.family),
        fontsLoaded: fonts.filter((f) => f.status === "loaded").map((f) => f.family),
        brokenImages: [...document.images].filter((i) => i.complete && !i.naturalWidth)
            .map((i) => i.src.slice(0, 60)),
    }};
}})()"""


def requested_urls(page: ChromiumPage) -> list[str]:
    return [
        e["params"]["request"]["url"]
        for e in page.events()
        if e.get("method") == "Network.requestWillBeSent"
    ]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("browser")
    m = build_convoy_map()
    return {
        "inline": save_offline(m, root / "inline" / "map.html"),
        "folder": save_offline(m, root / "folder" / "map.html", mode="folder"),
    }


@pytest.mark.parametrize("mode", ["inline", "folder"])
def test_saved_map_renders_offline(
    browser: HeadlessChromium, saved: dict[str, Path], mode: str
) -> None:
    page = browser.open(saved[mode].as_uri(), settle_ms=500)
    try:
        dom: dict[str, Any] = page.evaluate(DOM_PROBE)
        assert problems(page) == []
        remote = [u for u in requested_urls(page) if not u.startswith(("file:", "data:"))]
        assert remote == []
    finally:
        page.close()
    assert dom["leaflet"] == "object" and dom["leafletVersion"] == "1.9.3"
    assert dom["markerIcons"] == EXPECTED["plain_markers"]
    assert dom["clusters"] >= 1 and sum(dom["clusterCounts"]) == EXPECTED["clustered_markers"]
    assert dom["routes"] == EXPECTED["routes"]
    assert dom["tracks"] == 1
    assert dom["basemapPaths"] >= EXPECTED["provinces"]
    assert dom["provinceLabels"] == EXPECTED["provinces"]
    assert dom["fullscreen"] == 1
    assert dom["layerControl"] == 1 and "底图：省级行政区" in dom["layerNames"]
    assert dom["timeControl"] == 1 and dom["timeDimension"] == "function"
    assert dom["awesomeIcons"] == 2
    assert dom["fontErrors"] == []
    assert {"Font Awesome 6 Free", "Glyphicons Halflings"} <= set(dom["fontsLoaded"])
    assert dom["brokenImages"] == []


def test_network_is_really_blocked(browser: HeadlessChromium, tmp_path: Path) -> None:
    """A plain folium map (CDN links) must fail here, or the test above proves nothing."""
    plain = tmp_path / "cdn.html"
    folium.Map(location=(30, 120), zoom_start=5).save(plain)
    page = browser.open(plain.as_uri(), settle_ms=200)
    try:
        assert page.evaluate("typeof window.L") == "undefined"
        assert any(p.startswith("failed request") for p in problems(page))
    finally:
        page.close()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_screenshot_draws_the_map(
    saved: dict[str, Path], chromium_path: str, tmp_path: Path
) -> None:
    png = screenshot(
        saved["inline"], tmp_path / "shots" / "map.png", 800, 500, chromium=chromium_path
    )
    data = png.read_bytes()
    assert _png_size(data) == (800, 500)
    assert len(data) > 40_000  # a blank or error page compresses to a few kB
