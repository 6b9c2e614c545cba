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
from maps.style import MapOptions
from models.convoy.lifecycle import Census, Custody, Stage
from models.convoy.tables import Convoy, Position
from models.db import session_scope
from models.errors import ConfigurationError
from models.geo.datums import wgs84_to_gcj02
from models.views.mapdata import CheckpointKind, ConvoyView, MapStatus, convoy_view, scrub
from tests.maps.mapcheck import (
    SHANGHAI,
    T0,
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
    assert dom["playback"] >= 1 and dom["timeControl"] == 1  # the line (and its moving point)
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
    assert _bare_view(stage="planned").status is MapStatus.PLANNED
    assert _bare_view(stage="arrived").status is MapStatus.ARRIVED
    assert _bare_view(stage="closed").current is None  # no "current position" after the end


def test_eta_is_shown_with_the_delay() -> None:
    late = datetime(2020, 2, 24, 20, 15, tzinfo=SHANGHAI)
    view = _bare_view(eta=late, remaining_km=321.4)
    html = decoded(convoy_map(view, options=MapOptions()).get_root().render())
    assert "预计到达 02-24 20:15，晚 45 分钟" in html
    assert "剩余约 321 公里" in html


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
