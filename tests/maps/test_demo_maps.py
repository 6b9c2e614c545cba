"""The demo campaign's maps as a manager sees them in Chromium (network blocked): nothing
hidden at any zoom, plan and track told apart, late stays late; screenshots for a reader.

The demo is run to the end without Prefect (:mod:`tests.maps.demo`) in its own SQLite
database; the maps are written as ``convoy demo`` writes them (folder mode, one shared
``assets/`` folder). Screenshots go to ``var/test-screenshots/maps/`` in the repository (or
``$CONVOY_MAP_SCREENSHOTS``) for a person to look at; nothing asserts on the pictures' pixels.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import reset_settings
from maps.chromium import HeadlessChromium
from maps.files import save_campaign_map, save_convoy_map
from maps.style import STATUS_COLOURS
from models.db import dispose_engines
from models.views.mapdata import MapStatus
from tests.maps.demo import CAMPAIGN, run_demo
from tests.maps.mapcheck import hidden, load

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("CONVOY_MAP_SCREENSHOTS") or ROOT / "var" / "test-screenshots" / "maps")
MAPS = ("BUS-PC-01", "TRAIN-XY-01", "FLIGHT-KWE-01", "overview")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The demo run to the end; its three route maps and the overview (folder mode)."""
    var = tmp_path_factory.mktemp("demo") / "var"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONVOY_VAR_DIR", str(var))
        mp.setenv("CONVOY_DATABASE_URL", "")
        dispose_engines()
        reset_settings()
        try:
            codes = run_demo()
            maps = {code: save_convoy_map(code) for code in codes}
            maps["overview"] = save_campaign_map(CAMPAIGN)
            yield maps
        finally:
            dispose_engines()
            reset_settings()


def _open(browser: HeadlessChromium, path: Path, size: tuple[int, int] = (1280, 800)) -> Any:
    return browser.open(path.as_uri(), width=size[0], height=size[1], settle_ms=600)


@pytest.mark.parametrize("name", MAPS)
def test_demo_maps_load_cleanly(
    browser: HeadlessChromium, demo: dict[str, Path], name: str
) -> None:
    dom = load(browser, demo[name])
    assert dom["markers"]["destination"] >= 1


@pytest.mark.parametrize("name", MAPS)
@pytest.mark.parametrize("size", [(1280, 800), (1024, 700)], ids=["1280x800", "1024x700"])
def test_destination_flag_is_on_top_and_no_badge_hides_another(
    browser: HeadlessChromium, demo: dict[str, Path], name: str, size: tuple[int, int]
) -> None:
    """At the map's own zoom and at zoom 5, 9 and 12 around the destination: the flag is the
    topmost element at its own centre, and every badge in view is the topmost at its centre
    (none is covered by another badge; the handoff points of BUS-PC-01 sit exactly on it)."""
    page = _open(browser, demo[name], size)
    try:
        for zoom in (None, 5, 9, 12):
            found = hidden(page, zoom)
            assert found["flags"] >= 1, (zoom, found)
            assert found["flagOnTop"], (zoom, found)
            by_badges = [c for c in found["covered"] if c[1] and "leaflet-marker-icon" in c[1]]
            assert by_badges == [], (zoom, by_badges)
            if zoom is None:  # the first view keeps every badge clear of the panels too
                assert found["covered"] == [], found["covered"]
    finally:
        page.close()


def test_handoff_points_on_the_destination_are_spread_around_it(
    browser: HeadlessChromium, demo: dict[str, Path]
) -> None:
    page = _open(browser, demo["BUS-PC-01"])
    try:
        found = page.evaluate(
            """(() => [...document.querySelectorAll(".convoy-cp-handoff")].map((el) => ({
                moved: el.getAttribute("data-moved"),
                leader: el.querySelectorAll(".convoy-leader").length,
            })))()"""
        )
    finally:
        page.close()
    assert len(found) == 2
    assert all(f["moved"] and f["leader"] == 1 for f in found)


def test_plan_and_track_look_different(browser: HeadlessChromium, demo: dict[str, Path]) -> None:
    """The plan is a thin dark dashed line on top; the track a broad translucent band."""
    page = _open(browser, demo["BUS-PC-01"])
    try:
        styles = page.evaluate(
            """(() => {
                const style = (sel) => {
                    const path = document.querySelector(sel);
                    const s = getComputedStyle(path);
                    const pane = path.closest(".leaflet-pane:not(.leaflet-map-pane)");
                    return {stroke: s.stroke, width: parseFloat(s.strokeWidth),
                            dash: s.strokeDasharray, opacity: parseFloat(s.strokeOpacity),
                            pane: Number(getComputedStyle(pane).zIndex)};
                };
                return {plan: style("path.convoy-route-planned"),
                        track: style("path.convoy-route-track")};
            })()"""
        )
    finally:
        page.close()
    plan, track = styles["plan"], styles["track"]
    assert plan["stroke"] != track["stroke"]
    assert plan["dash"] != "none" and track["dash"] == "none"
    assert track["width"] >= 2 * plan["width"]
    assert plan["pane"] > track["pane"]  # the plan is drawn above the track


def test_the_late_bus_stays_late_after_closing(
    browser: HeadlessChromium, demo: dict[str, Path]
) -> None:
    """BUS-PC-01 arrived 92 min late (bus threshold 60) and was closed: late, not green."""
    late = STATUS_COLOURS[MapStatus.DONE_LATE]
    page = _open(browser, demo["BUS-PC-01"])
    try:
        route = page.evaluate(
            """(() => ({
                track: document.querySelector("path.convoy-route-track").getAttribute("class"),
                stroke: document.querySelector("path.convoy-route-track").getAttribute("stroke"),
                panel: document.querySelector(".convoy-info").innerText,
            }))()"""
        )
    finally:
        page.close()
    assert "convoy-late" in route["track"] and route["stroke"] == late
    assert "晚 1 小时 32 分钟" in route["panel"]
    page = _open(browser, demo["overview"])
    try:
        overview = page.evaluate(
            """(() => [...document.querySelectorAll("path.convoy-overview-route")]
                .map((p) => [p.getAttribute("class"), p.getAttribute("stroke")]))()"""
        )
    finally:
        page.close()
    assert sum("convoy-status-done_late" in c and s == late for c, s in overview) >= 1


@pytest.mark.parametrize("size", [(1280, 800), (1024, 700)], ids=["1280x800", "1024x700"])
def test_summary_panel_fits_and_folds(
    browser: HeadlessChromium, demo: dict[str, Path], size: tuple[int, int]
) -> None:
    """The overview's summary starts folded on a small window, opens and folds with its
    button, never covers the destination, and its status line breaks between statuses only."""
    page = _open(browser, demo["overview"], size)
    try:
        found = page.evaluate(
            """(() => {
                const panel = document.querySelector(".convoy-summary");
                const body = panel.querySelector(".convoy-panel-body");
                const button = panel.querySelector(".convoy-panel-toggle");
                const shown = () => getComputedStyle(body).display !== "none";
                const first = shown();
                button.click();
                const second = shown();
                const r = panel.getBoundingClientRect();
                const flags = [...document.querySelectorAll(".convoy-marker-destination")]
                    .map((f) => f.getBoundingClientRect());
                const under = flags.some((f) => f.left < r.right && f.right > r.left
                    && f.top < r.bottom && f.bottom > r.top);
                return {
                    first, second, title: button.title, under,
                    nowrap: [...panel.querySelectorAll(".convoy-status-line .st")]
                        .every((s) => getComputedStyle(s).whiteSpace === "nowrap"),
                };
            })()"""
        )
    finally:
        page.close()
    assert found["first"] == (size[0] >= 1100)  # folded at 1024×700
    assert found["second"] != found["first"] and found["title"] in ("展开", "收起")
    assert found["nowrap"]
    if not found["second"]:
        assert not found["under"]


def test_overview_popups_link_to_the_route_maps_beside_it(demo: dict[str, Path]) -> None:
    page = demo["overview"]
    links = re.findall(r'convoy-map-link\\?" href=\\?"([^"\\]+)', page.read_text("utf-8"))
    assert sorted(set(links)) == ["BUS-PC-01.html", "FLIGHT-KWE-01.html", "TRAIN-XY-01.html"]
    assert all((page.parent / link).is_file() for link in links)


@pytest.mark.parametrize("name", ["BUS-PC-01", "overview"])
def test_print_stylesheet_hides_controls_and_keeps_colours(
    browser: HeadlessChromium, demo: dict[str, Path], name: str
) -> None:
    """Printed (CSS media ``print``): no buttons, sliders or layer list; panels unfolded;
    badges keep their status colours. A PDF of each is written beside the screenshots."""
    page = _open(browser, demo[name], (1024, 700))
    try:
        browser.send("Emulation.setEmulatedMedia", {"media": "print"}, session=page.session)
        found = page.evaluate(
            """(() => {
                const display = (sel) => [...document.querySelectorAll(sel)]
                    .map((e) => getComputedStyle(e).display);
                const badge = document.querySelector(".convoy-marker-destination .convoy-badge");
                return {
                    controls: display(".leaflet-control-zoom, .leaflet-control-layers, "
                        + ".leaflet-control-zoom-fullscreen, .convoy-replay, .convoy-panel-toggle"),
                    bodies: display(".convoy-panel-body"),
                    adjust: getComputedStyle(badge).printColorAdjust,
                    background: getComputedStyle(badge).backgroundColor,
                };
            })()"""
        )
        SHOTS.mkdir(parents=True, exist_ok=True)
        pdf = browser.send("Page.printToPDF", {"printBackground": False}, session=page.session)
        (SHOTS / f"{name}-print.pdf").write_bytes(base64.b64decode(pdf["data"]))
    finally:
        page.close()
    assert found["controls"] and set(found["controls"]) == {"none"}
    assert found["bodies"] and "none" not in found["bodies"]
    assert found["adjust"] == "exact" and found["background"] == "rgb(192, 57, 43)"


BASEMAP_PROBE = """new Promise((done) => {
    const map = Object.values(window).find((v) => v instanceof L.Map);
    map.setView([%(lat)s, %(lon)s], %(zoom)s, {animate: false});
    setTimeout(() => {
        const group = map.convoyBasemap[0];
        const drawn = {};
        group.levels.forEach((l) => {
            const key = l.lv.keys.join("+");
            drawn[key] = map.hasLayer(l.layer) ? l.layer.getLayers().length : 0;
        });
        const inView = (el) => {
            const r = el.getBoundingClientRect();
            return r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.top < innerHeight;
        };
        const labels = (cls) => [...document.querySelectorAll(".convoy-basemap-label." + cls)]
            .filter(inView).map((e) => e.textContent);
        const zhejiangFill = [];
        group.levels[0].layer.eachLayer((sub) => {
            if (sub.feature.properties.adcode === "330000") {
                zhejiangFill.push(sub.options.fillOpacity);
            }
        });
        done({drawn, zhejiangFill, province: labels("convoy-basemap-province"),
              city: labels("convoy-basemap-city"), district: labels("convoy-basemap-district"),
              places: labels("convoy-basemap-place")});
    }, 250);
})"""


@pytest.mark.parametrize("name", ["BUS-PC-01", "overview"])
def test_basemap_shows_what_suits_each_zoom(
    browser: HeadlessChromium, demo: dict[str, Path], name: str
) -> None:
    """Around 宁波: provinces and their names at zoom 5 with 宁波 named; prefecture and county
    borders and names at zoom 9; counties (the fine coast) at zoom 12. The origin provinces
    (陕西, 河南, 贵州) have their counties too."""
    page = _open(browser, demo[name])

    def at(zoom: int, lat: float = 29.75, lon: float = 121.6) -> dict[str, Any]:
        found: dict[str, Any] = page.evaluate(
            BASEMAP_PROBE % {"lat": lat, "lon": lon, "zoom": zoom}, await_promise=True
        )
        return found

    try:
        z5, z7, z9, z12 = at(5), at(7), at(9), at(12)
        places = {"61": (34.95, 109.58), "41": (32.15, 114.09), "52": (26.6, 106.7),
                  "34": (31.82, 117.23)}  # fmt: skip
        wanted = ("61", "41", "34") if name == "BUS-PC-01" else ("61", "41", "52")
        origins = {code: at(9, *places[code]) for code in wanted}
    finally:
        page.close()
    assert z5["drawn"]["province"] == 34 and z5["drawn"]["city"] == 0
    assert "浙江" in z5["province"] and "宁波" in z5["places"]
    assert not any(k.startswith("district") and n for k, n in z5["drawn"].items())
    assert "宁波" in z7["places"] and "杭州" in z7["places"]  # the destination, a capital
    assert z9["drawn"]["city"] == 375 and "宁波" in z9["city"] + z9["places"]
    counties = next(n for k, n in z9["drawn"].items() if "district-33" in k)
    assert counties >= 90 and "象山县" in z9["district"] + z9["places"]
    assert z9["zhejiangFill"] == [0]  # the coast now comes from the finer counties
    key = next(k for k in z12["drawn"] if "district-33" in k)
    assert z12["drawn"][key] >= 90 and z12["district"] + z12["places"]  # named at zoom 12
    assert z12["zhejiangFill"] == [0] and z12["drawn"]["province"] == 34
    for code, seen in origins.items():
        assert any(f"district-{code}" in k and n for k, n in seen["drawn"].items()), code
        assert seen["district"], code


REPLAY_PROBE = """(() => {
    const map = Object.values(window).find((v) => v && v.convoyReplay);
    const r = map.convoyReplay;
    const slider = document.querySelector(".convoy-replay-slider");
    const at = (i) => {
        slider.value = String(i);
        slider.dispatchEvent(new Event("input"));
        const out = {clock: document.querySelector(".convoy-replay-clock").textContent};
        r.items.forEach((it) => {
            const p = it.marker.getLatLng();
            out[it.c.code] = [p.lat, p.lng, it.marker.getElement().getAttribute("data-status")];
        });
        return out;
    };
    const dest = {};
    r.items.forEach((it) => { dest[it.c.code] = it.c.pts[it.c.pts.length - 1].slice(1); });
    const seen = {};
    for (let i = 0; i <= r.steps; i++) {
        const now = at(i);
        r.items.forEach((it) => {
            (seen[it.c.code] = seen[it.c.code] || []).includes(now[it.c.code][2])
                || seen[it.c.code].push(now[it.c.code][2]);
        });
    }
    return {steps: r.steps, start: at(0), seen, end: at(r.steps), dest,
            badges: document.querySelectorAll(".convoy-marker-replay").length};
})()"""


def test_campaign_replay_moves_every_convoy_to_its_destination(
    browser: HeadlessChromium, demo: dict[str, Path]
) -> None:
    """The overview's time slider: at the start every convoy is at its origin, preparing
    (grey); at the end every one is at its destination, closed — late ones brown; in between
    the colours change with the stages. The clock is Beijing time."""
    page = _open(browser, demo["overview"])
    try:
        browser.send(
            "Emulation.setTimezoneOverride", {"timezoneId": "Europe/Berlin"}, session=page.session
        )
        found = page.evaluate(REPLAY_PROBE)
    finally:
        page.close()
    codes = ("BUS-PC-01", "TRAIN-XY-01", "FLIGHT-KWE-01")
    assert found["badges"] == 3 and found["steps"] >= 100
    start, seen, end = found["start"], found["seen"], found["end"]
    for code in codes:
        assert start[code][:2] != end[code][:2], code  # every convoy moved
        assert end[code][:2] == pytest.approx(found["dest"][code], abs=1e-4)
        assert start[code][2] == "planned"
    assert {end[c][2] for c in codes} == {"done", "done_late"}
    assert end["BUS-PC-01"][2] == "done_late" and end["FLIGHT-KWE-01"][2] == "done"
    assert seen["BUS-PC-01"] == ["planned", "under_way", "delayed", "done_late"]
    assert seen["FLIGHT-KWE-01"] == ["planned", "under_way", "arrived", "done"]
    # The demo starts with BUS-PC-01's muster at 11:00 Beijing time on 20 February.
    assert start["clock"].startswith("2020-02-20 1") and end["clock"].startswith("2020-02-26")


def test_screenshots_of_the_demo_maps_for_a_reader(
    browser: HeadlessChromium, demo: dict[str, Path]
) -> None:
    """PNGs of every demo map (1280×800 and 1024×700) and of the destination at zoom 12."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    written = []
    for name in MAPS:
        for size in ((1280, 800), (1024, 700)):
            page = _open(browser, demo[name], size)
            try:
                if size == (1280, 800) and name == "BUS-PC-01":
                    zoomed = SHOTS / f"{name}-destination-z12.png"
                    hidden(page, 12)
                    page.evaluate(
                        "new Promise((r) => setTimeout(() => r(true), 300))", await_promise=True
                    )
                    zoomed.write_bytes(page.png())
                    written.append(zoomed)
                    page.close()
                    page = _open(browser, demo[name], size)
                target = SHOTS / f"{name}-{size[0]}x{size[1]}.png"
                target.write_bytes(page.png())
                written.append(target)
            finally:
                page.close()
    assert all(p.stat().st_size > 20_000 for p in written)
    print(f"\nscreenshots: {SHOTS}")
