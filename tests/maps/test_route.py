"""The convoy route map: content, offline rendering, no personal data, locales, GCJ-02 tiles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from maps.basemap import has_basemap
from maps.chromium import HeadlessChromium
from maps.offline import save_offline
from maps.route import convoy_map
from maps.style import STATUS_COLOURS, MapOptions
from models.convoy.lifecycle import Census, Custody, Stage
from models.convoy.tables import Convoy, Position
from models.db import session_scope
from models.errors import ConfigurationError
from models.geo.datums import wgs84_to_gcj02
from models.views.mapdata import (
    AlertMark,
    CheckpointKind,
    ConvoyView,
    MapStatus,
    convoy_view,
    scrub,
)
from tests.maps.mapcheck import (
    SHANGHAI,
    T0,
    assert_chinese_controls,
    assert_offline_files,
    decoded,
    leaks,
    load,
    personal_data,
    put_in_the_field,
)


@pytest.fixture
def field_view(make_convoy: Callable[..., str], settings: Settings) -> ConvoyView:
    code = make_convoy("BUS-M1", n=20)
    put_in_the_field(code)
    with session_scope() as s:
        return convoy_view(s, code)


def test_view_counts_checkpoints_and_alerts(field_view: ConvoyView) -> None:
    v = field_view
    assert v.stage is Stage.IN_TRANSIT
    c = v.counts
    assert (c.total, c.boarded, c.held, c.withdrawn, c.handed_off, c.in_custody) == (
        20, 18, 1, 1, 0, 18,
    )  # fmt: skip
    kinds = [cp.kind for cp in v.checkpoints]
    assert kinds[:4] == [
        CheckpointKind.MUSTER,
        CheckpointKind.SCREENING,
        CheckpointKind.ARRIVAL,
        CheckpointKind.ARRIVAL_SCREENING,
    ]
    handoffs = [cp for cp in v.checkpoints if cp.kind is CheckpointKind.HANDOFF]
    assert len(handoffs) == 2 and sum(cp.expected or 0 for cp in handoffs) == 20
    assert all(cp.approximate for cp in handoffs)  # the test enterprises have no coordinates
    muster, screening = v.checkpoints[0], v.checkpoints[1]
    assert muster.withdrawn == 1 and screening.held == 1 and screening.passed == 18
    assert screening.name == "蒲城县体育馆" and screening.done
    assert len(v.track) == 12 and v.current is not None
    assert v.alerts == (("off_route", "【偏航】BUS-M1 偏离计划路线 12 公里"),)
    assert v.status is MapStatus.ALERT
    (mark,) = v.alert_marks  # the open alert, placed on the track at its opening time (T0)
    assert mark.open and (mark.lat, mark.lon) == (v.track[0].lat, v.track[0].lon)


@pytest.fixture
def saved(field_view: ConvoyView, tmp_path: Path) -> dict[str, Path]:
    m = convoy_map(field_view, options=MapOptions())
    return {
        "inline": save_offline(m, tmp_path / "inline" / "BUS-M1.html"),
        "folder": save_offline(m, tmp_path / "folder" / "BUS-M1.html", mode="folder"),
    }


def test_no_personal_data_in_the_map(saved: dict[str, Path]) -> None:
    values = personal_data()
    assert len(values) == 60
    for path in saved.values():
        text = path.read_text(encoding="utf-8")
        assert leaks(text, values) == []
        assert "BUS-M1" in text and "蒲城县体育馆" in decoded(text)


def test_saved_files_have_no_remote_url(saved: dict[str, Path]) -> None:
    for path in saved.values():
        assert_offline_files(path)


@pytest.mark.parametrize("mode", ["inline", "folder"])
def test_route_map_renders_offline(
    browser: HeadlessChromium, saved: dict[str, Path], mode: str
) -> None:
    dom: dict[str, Any] = load(browser, saved[mode])
    assert dom["planned"] == 1 and dom["track"] == 1
    assert dom["replayControl"] == 1
    mk = dom["markers"]
    assert (mk["origin"], mk["destination"], mk["waypoint"], mk["current"], mk["alert"]) == (
        1, 1, 1, 1, 1,
    )  # fmt: skip
    assert mk["checkpoint"] == 6 and mk["handoff"] == 2  # 4 checkpoints + 2 enterprises
    assert dom["fullscreen"] == 1 and dom["layerControl"] == 1
    assert dom["legend"] == 1 and dom["info"] == 1
    assert "计划路线" in dom["layerNames"] and "检查点" in dom["layerNames"]
    assert "名单人数" in dom["panelText"] and "偏航" in dom["panelText"]
    assert any(label.startswith("BUS-M1") for label in dom["permanentLabels"])
    assert_chinese_controls(dom)
    # Only what the elements use: no jQuery, Bootstrap, Awesome Markers, TimeDimension, moment.
    assert dom["libraries"] == ["L"]
    if mode == "folder":
        assert sorted(s for s in dom["scripts"] if not s.startswith("basemap/")) == [
            "leaflet-fullscreen/Control.FullScreen.js",
            "leaflet/leaflet.js",
        ]
        assert sorted(s for s in dom["scripts"] if s.startswith("basemap/")) == [
            "basemap/china-boundary-lines.js",
            "basemap/china-cities.js",
            "basemap/china-provinces.js",
            "basemap/districts-33.js",  # 象山 (the destination)
            "basemap/districts-34.js",  # 合肥 (a waypoint)
            "basemap/districts-61.js",  # 蒲城 (the origin)
        ]


def test_track_replay_runs_in_the_operation_time_zone(
    browser: HeadlessChromium, saved: dict[str, Path]
) -> None:
    """The replay clock shows Beijing time on a computer set to New York; moving the slider
    draws the trail and moves the badge along the track."""
    page = browser.open(saved["inline"].as_uri(), settle_ms=200)
    try:
        browser.send(
            "Emulation.setTimezoneOverride",
            {"timezoneId": "America/New_York"},
            session=page.session,
        )
        found = page.evaluate(
            """(() => {
                const map = Object.values(window).find((v) => v && v.convoyReplay);
                const r = map.convoyReplay;
                const clock = () => document.querySelector(".convoy-replay-clock").textContent;
                const spot = () => {
                    const el = document.querySelector(".convoy-marker-replay");
                    const b = el.getBoundingClientRect();
                    return [Math.round(b.x), Math.round(b.y)];
                };
                const atEnd = clock();
                const slider = document.querySelector(".convoy-replay-slider");
                slider.value = "0";
                slider.dispatchEvent(new Event("input"));
                const first = {clock: clock(), spot: spot()};
                slider.value = String(r.steps);
                slider.dispatchEvent(new Event("input"));
                const current = document.querySelector(".convoy-marker-current");
                return {
                    atEnd, first, last: {clock: clock(), spot: spot()},
                    trails: document.querySelectorAll("path.convoy-replay-trail").length,
                    currentHidden: getComputedStyle(current).display === "none",
                    browserHour: new Date(Date.UTC(2020, 1, 20, 6, 20)).getHours(),
                };
            })()"""
        )
    finally:
        page.close()
    assert found["browserHour"] == 1  # the page really runs in New York (06:20 UTC = 01:20)
    # T0 is 14:20 Beijing time; 12 fixes 20 minutes apart end at 18:00.
    assert found["atEnd"] == "2020-02-20 18:00" == found["last"]["clock"]
    assert found["first"]["clock"] == "2020-02-20 14:20"
    assert found["first"]["spot"] != found["last"]["spot"]
    assert found["trails"] == 1 and found["currentHidden"]


def test_english_labels_by_setting(field_view: ConvoyView, tmp_path: Path) -> None:
    zh = save_offline(convoy_map(field_view, options=MapOptions()), tmp_path / "zh.html")
    en = save_offline(convoy_map(field_view, options=MapOptions(locale="en")), tmp_path / "en.html")
    zh_text = decoded(zh.read_text(encoding="utf-8"))
    en_text = decoded(en.read_text(encoding="utf-8"))
    assert "计划路线" in zh_text and "planned route" not in zh_text
    assert "planned route" in en_text and "on manifest" in en_text
    assert "名单人数" not in en_text and "Basemap: provinces" in en_text


def test_default_options_follow_settings(
    field_view: ConvoyView, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config import reset_settings

    monkeypatch.setenv("CONVOY_LOCALE", "en")
    reset_settings()
    html = decoded(convoy_map(field_view).get_root().render())
    assert "planned route" in html


def _bare_view(**changes: Any) -> ConvoyView:
    convoy = Convoy(
        code="TRAIN-T1", mode="train", vehicle="L8021", origin_name="信阳站",
        origin_lat=32.147, origin_lon=114.091, destination_name="宁波站",
        destination_lat=29.8627, destination_lon=121.5411, waypoints=[],
        planned_departure=datetime(2020, 2, 24, 9, tzinfo=SHANGHAI),
        planned_arrival=datetime(2020, 2, 24, 19, 30, tzinfo=SHANGHAI),
        stage=changes.pop("stage", "in_transit"),
        actual_arrival=changes.pop("actual_arrival", None),
    )  # fmt: skip
    positions = [
        Position(convoy_id=1, at=T0 + timedelta(hours=i), lat=32 - i * 0.3, lon=115 + i)
        for i in range(3)
    ]
    census = Census.of([Custody.BOARDED] * 10)
    return ConvoyView.of(convoy, positions, census, **changes)


def test_status_colours_follow_stage_delay_and_alerts() -> None:
    assert _bare_view().status is MapStatus.UNDER_WAY
    late = datetime(2020, 2, 24, 20, 30, tzinfo=SHANGHAI)
    assert _bare_view(eta=late, late_after_minutes=30).status is MapStatus.DELAYED
    assert _bare_view(alerts=[("stopped", "x")]).status is MapStatus.ALERT
    assert _bare_view(alerts=[("late_arrival", "x")]).status is MapStatus.DELAYED
    assert _bare_view(stage="closed").status is MapStatus.DONE
    on_time = datetime(2020, 2, 24, 19, 55, tzinfo=SHANGHAI)  # 25 min: under the 30 min rule
    assert _bare_view(stage="closed", actual_arrival=on_time).status is MapStatus.DONE
    late = datetime(2020, 2, 24, 21, 2, tzinfo=SHANGHAI)
    closed_late = _bare_view(stage="closed", actual_arrival=late, late_after_minutes=30)
    assert closed_late.status is MapStatus.DONE_LATE and closed_late.late_minutes == 92
    assert closed_late.status.late and not MapStatus.DONE.late
    assert _bare_view(stage="planned").status is MapStatus.PLANNED
    assert _bare_view(stage="arrived").status is MapStatus.ARRIVED
    assert _bare_view(stage="closed").current is None  # no "current position" after the end


def test_eta_is_shown_with_the_delay() -> None:
    late = datetime(2020, 2, 24, 20, 15, tzinfo=SHANGHAI)
    view = _bare_view(eta=late, remaining_km=321.4)
    html = decoded(convoy_map(view, options=MapOptions()).get_root().render())
    assert "预计到达 02-24 20:15，晚 45 分钟" in html
    assert "预计到达 | 预计到达" not in html and '预计到达</td><td class="n">预计到达' not in html
    assert "剩余约 321 公里" in html


def test_a_late_closed_convoy_is_drawn_late(browser: HeadlessChromium, tmp_path: Path) -> None:
    """Arrived 92 min late (threshold 30), then closed: the track, the panel and the legend
    say so (issue 13: "done" used to override "late")."""
    late = datetime(2020, 2, 24, 21, 2, tzinfo=SHANGHAI)
    view = _bare_view(stage="closed", actual_arrival=late, late_after_minutes=30)
    html = save_offline(convoy_map(view, options=MapOptions()), tmp_path / "late.html")
    load(browser, html)
    page = browser.open(html.as_uri(), settle_ms=300)
    try:
        found = page.evaluate(
            """(() => {
                const track = document.querySelector("path.convoy-route-track");
                return {
                    classes: track.getAttribute("class"),
                    stroke: track.getAttribute("stroke"),
                    panel: document.querySelector(".convoy-info").innerText,
                    legend: document.querySelector(".convoy-legend").innerText,
                };
            })()"""
        )
    finally:
        page.close()
    assert "convoy-status-done_late" in found["classes"] and "convoy-late" in found["classes"]
    assert found["stroke"] == STATUS_COLOURS[MapStatus.DONE_LATE]
    assert "已结束·晚到" in found["panel"]
    assert "实际到达 02-24 21:02，晚 1 小时 32 分钟" in found["panel"]
    assert "30 分钟以上" in found["legend"]


def test_gcj02_tiles_shift_points_and_drop_the_basemap() -> None:
    view = _bare_view()
    tiles = "http://10.0.0.5/amap/{z}/{x}/{y}.png"
    m = convoy_map(view, options=MapOptions(tile_url=tiles, tile_crs="gcj02"))
    assert not has_basemap(m)
    html = m.get_root().render()
    lat, lon = wgs84_to_gcj02(32.147, 114.091)
    assert f"{lat}, {lon}" in html or f"[{lat}, {lon}]" in html or f"{round(lat, 6)}" in html
    assert tiles in html
    wgs = convoy_map(view, options=MapOptions())
    assert has_basemap(wgs)
    assert "32.147, 114.091" in wgs.get_root().render()
    assert view.origin == (32.147, 114.091)  # the data stays WGS-84
    with pytest.raises(ConfigurationError, match="no tile URL"):
        MapOptions(tile_crs="gcj02")


def test_free_text_is_scrubbed() -> None:
    text = scrub("call 13812345678 about 610526199001011234 now")
    assert "13812345678" not in text and "610526199001011234" not in text
    view = _bare_view(alerts=[("stopped", "escort 13812345678 reports a stop")])
    assert "13812345678" not in convoy_map(view).get_root().render()


def _stopping_view() -> ConvoyView:
    """A bus that stood still for 70 minutes near 郑州 and was off route near 合肥."""
    convoy = Convoy(
        code="BUS-S1", mode="bus", vehicle="浙B·S0001", origin_name="蒲城县",
        origin_lat=34.9566, origin_lon=109.5814, destination_name="象山县",
        destination_lat=29.4794, destination_lon=121.8653, waypoints=[],
        planned_departure=T0, planned_arrival=T0 + timedelta(hours=26), stage="in_transit",
        actual_departure=T0,
    )  # fmt: skip
    moving = [(T0 + timedelta(minutes=15 * i), 34.9 - 0.05 * i, 109.7 + 0.2 * i) for i in range(8)]
    last = moving[-1]
    still = [
        (last[0] + timedelta(minutes=10 * k), last[1] + 0.0005 * k, last[2]) for k in range(1, 8)
    ]
    onward = [(still[-1][0] + timedelta(minutes=15 * k), last[1] - 0.1 * k, last[2] + 0.2 * k)
              for k in range(1, 6)]  # fmt: skip
    positions = [
        Position(convoy_id=1, at=at, lat=lat, lon=lon) for at, lat, lon in moving + still + onward
    ]
    marks = [
        AlertMark("stopped", "【停留】BUS-S1 已 70 分钟未移动", still[-1][0], open=False,
                  minutes=70, lat=last[1], lon=last[2]),
        AlertMark("off_route", "【偏航】BUS-S1 偏离计划路线 18 公里", onward[2][0]),
    ]  # fmt: skip
    return ConvoyView.of(convoy, positions, Census.of([Custody.BOARDED] * 5), alert_marks=marks)


def test_long_stops_and_alerts_are_found_where_they_happened() -> None:
    view = _stopping_view()
    (stop,) = view.stops
    assert stop.minutes == 70 and stop.lat == pytest.approx(view.track[7].lat, abs=0.002)
    stopped, off_route = view.alert_marks
    assert (stopped.lat, stopped.lon) == (view.track[7].lat, view.track[7].lon)
    assert (off_route.lat, off_route.lon) == (view.track[17].lat, view.track[17].lon)  # at 16:50
    assert view.corridor_km == 15 and view.stopped_after_minutes == 45  # the bus rules


def test_corridor_alerts_and_stops_are_drawn_as_the_monitor_sees_them(
    browser: HeadlessChromium, tmp_path: Path
) -> None:
    """The corridor is 15 km on each side at every zoom (stroke width from the metres per
    pixel), the plan follows the monitor's geodesic route, and the alerts and the long stop
    sit on the track where they happened, with humanised durations."""
    view = _stopping_view()
    html = save_offline(convoy_map(view, options=MapOptions()), tmp_path / "stop.html")
    dom = load(browser, html)
    assert "监控走廊（路线两侧各 15 公里，超出即告警）" in dom["layerNames"]
    page = browser.open(html.as_uri(), settle_ms=300)
    try:
        found = page.evaluate(
            """(() => {
                const map = Object.values(window).find((v) => v instanceof L.Map);
                const widths = [];
                for (const z of [5, 9, 12]) {
                    map.setZoom(z, {animate: false});
                    const p = document.querySelector("path.convoy-corridor");
                    const lat = Number(p.getAttribute("data-lat"));
                    const mpp = 40075016.686 * Math.cos(lat * Math.PI / 180) / 2 ** (z + 8);
                    widths.push([parseFloat(getComputedStyle(p).strokeWidth), 30000 / mpp]);
                }
                const places = {};
                map.eachLayer((layer) => {
                    const el = layer.getElement && layer.getElement();
                    if (el && el.classList && el.classList.contains("leaflet-marker-icon")) {
                        const kind = [...el.classList].find((c) => /^convoy-(event|marker-stop)/
                            .test(c) && c !== "convoy-marker-event");
                        if (kind) {
                            const at = layer.getLatLng();
                            places[kind] = [at.lat, at.lng, layer.getTooltip().getContent()];
                        }
                    }
                });
                let plan = 0;
                map.eachLayer((layer) => {
                    if (layer.options && layer.options.className === "convoy-route-planned") {
                        plan = layer.getLatLngs().length;
                    }
                });
                return {widths, places, plan};
            })()"""
        )
    finally:
        page.close()
    for actual, expected in found["widths"]:
        assert actual == pytest.approx(expected, rel=0.01)
    places = found["places"]
    assert places["convoy-event-stopped"][:2] == pytest.approx(
        [view.track[7].lat, view.track[7].lon]
    )
    assert "已 1 小时 10 分钟未移动" in places["convoy-event-stopped"][2]
    assert "已解除" in places["convoy-event-stopped"][2]
    assert places["convoy-event-off_route"][:2] == pytest.approx(
        [view.track[17].lat, view.track[17].lon]
    )
    assert "停留 1 小时 10 分钟" in places["convoy-marker-stop"][2]
    assert found["plan"] > 40  # geodesic pieces of at most 25 km, not one straight segment
