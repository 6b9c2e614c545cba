"""The operations overview: every convoy, one layer per mode, clusters, summary, offline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from maps.chromium import HeadlessChromium
from maps.offline import save_offline
from maps.overview import overview_map
from maps.style import MapOptions
from models.convoy.store import get_convoy, upsert_enterprise
from models.db import session_scope
from models.views.mapdata import CampaignView, MapStatus, campaign_view
from tests.conftest import ENTERPRISES
from tests.maps.mapcheck import assert_offline_files, decoded, leaks, load, personal_data
from tests.maps.mapcheck import put_in_the_field as field

CAMPAIGN = "test campaign"


@pytest.fixture
def campaign(make_convoy: Callable[..., str], settings: Settings) -> CampaignView:
    """Three convoys (train in transit with an alert, flight planned, bus planned)."""
    for code, mode, seed in (("TRAIN-O1", "train", 1), ("FLIGHT-O1", "flight", 2),
                             ("BUS-O1", "bus", 3)):  # fmt: skip
        make_convoy(code, n=20, seed=seed)
        with session_scope() as s:
            convoy = get_convoy(s, code)
            convoy.mode = mode
            s.add(convoy)
    field("TRAIN-O1")
    with session_scope() as s:  # one enterprise with coordinates, one without
        upsert_enterprise(s, ENTERPRISES[0], lat=29.47, lon=121.87)
        return campaign_view(s, CAMPAIGN)


def test_campaign_view_totals(campaign: CampaignView) -> None:
    assert len(campaign.convoys) == 3
    t = campaign.totals
    assert (t.total, t.held, t.withdrawn, t.in_custody) == (60, 1, 1, 58)
    assert campaign.open_alerts == 1
    assert {c.code: c.status for c in campaign.convoys} == {
        "TRAIN-O1": MapStatus.ALERT,
        "FLIGHT-O1": MapStatus.PLANNED,
        "BUS-O1": MapStatus.PLANNED,
    }
    stops = {e.name: e for e in campaign.enterprises}
    assert set(stops) == set(ENTERPRISES)
    assert sum(e.expected for e in stops.values()) == 60
    assert not stops[ENTERPRISES[0]].approximate and stops[ENTERPRISES[1]].approximate
    assert all(c.track == () for c in campaign.convoys)  # the overview needs no full tracks
    assert next(c for c in campaign.convoys if c.code == "TRAIN-O1").current is not None


@pytest.fixture
def saved(campaign: CampaignView, tmp_path: Path) -> dict[str, Path]:
    m = overview_map(campaign, options=MapOptions())
    return {
        "inline": save_offline(m, tmp_path / "inline" / "overview.html"),
        "folder": save_offline(m, tmp_path / "folder" / "overview.html", mode="folder"),
    }


def test_no_personal_data_and_no_remote_url(saved: dict[str, Path]) -> None:
    values = personal_data()
    assert len(values) == 180
    for path in saved.values():
        text = path.read_text(encoding="utf-8")
        assert leaks(text, values) == []
        assert "王经理" not in decoded(text)  # the enterprises' contact person
        assert_offline_files(path)


@pytest.mark.parametrize("mode", ["inline", "folder"])
def test_overview_renders_offline(
    browser: HeadlessChromium, saved: dict[str, Path], mode: str
) -> None:
    dom: dict[str, Any] = load(browser, saved[mode])
    assert dom["overviewRoutes"] == 3
    assert dom["modeRoutes"] == {"train": 1, "flight": 1, "bus": 1}
    mk = dom["markers"]
    assert mk["count"] == 3 and mk["current"] == 1 and mk["destination"] == 1
    assert sum(dom["clusterCounts"]) + mk["enterprise"] == 2
    assert {"专列（1）", "包机（1）", "专车（1）", "企业交接点（2）"} <= set(dom["layerNames"])
    assert dom["fullscreen"] == 1 and dom["layerControl"] == 1 and dom["legend"] == 1
    summary = dom["summary"]
    assert "各阶段车次" in summary and "途中" in summary and "已计划" in summary
    assert "在途看护" in summary and "58" in summary
    assert "未处理告警: 1" in summary and "偏航" in summary


def test_layers_hide_a_mode(browser: HeadlessChromium, saved: dict[str, Path]) -> None:
    """Unticking a mode in the layer control removes its lines and badges."""
    page = browser.open(saved["inline"].as_uri(), settle_ms=300)
    try:
        after = page.evaluate(
            """(() => {
                const label = [...document.querySelectorAll(
                    ".leaflet-control-layers-overlays label")]
                    .find((l) => l.textContent.includes("专列"));
                label.querySelector("input").click();
                return {
                    routes: document.querySelectorAll("path.convoy-overview-route").length,
                    train: document.querySelectorAll("path.convoy-mode-train").length,
                };
            })()"""
        )
    finally:
        page.close()
    assert after == {"routes": 2, "train": 0}


def test_english_overview(campaign: CampaignView) -> None:
    html = decoded(overview_map(campaign, options=MapOptions(locale="en")).get_root().render())
    assert "convoys by stage" in html and "train (1)" in html and "open alerts" in html
