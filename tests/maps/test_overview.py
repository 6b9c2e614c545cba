"""The operations overview: every convoy, one layer per mode, clusters, summary, offline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from config import Settings
from maps.chromium import HeadlessChromium
from maps.offline import save_offline
from maps.overview import overview_map
from maps.style import MapOptions
from models.convoy.store import get_convoy, upsert_enterprise
from models.db import session_scope
from models.views.mapdata import CampaignView, MapStatus, campaign_view, convoy_view
from tests.conftest import ENTERPRISES
from tests.maps.mapcheck import (
    assert_chinese_controls,
    assert_offline_files,
    decoded,
    hidden,
    leaks,
    load,
    personal_data,
)
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


def _statements(read: Callable[[Any], Any]) -> int:
    """How many SQL statements ``read(session)`` sends."""
    sent = []

    def count(*_args: Any) -> None:
        sent.append(1)

    with session_scope() as s:
        engine = s.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        try:
            read(s)
        finally:
            event.remove(engine, "before_cursor_execute", count)
    return len(sent)


def test_campaign_view_reads_every_convoy_at_once(
    campaign: CampaignView, make_convoy: Callable[..., str]
) -> None:
    """Each part of the overview is one query for the whole campaign: a fourth convoy adds
    no query (read convoy by convoy, the 43 of a simulated 1x campaign took 930)."""
    three = _statements(lambda s: campaign_view(s, CAMPAIGN))
    make_convoy("BUS-O2", n=5, seed=4)
    assert _statements(lambda s: campaign_view(s, CAMPAIGN)) == three <= 12


def test_campaign_view_gives_each_convoy_its_route_map_view(campaign: CampaignView) -> None:
    """Read together, each convoy's view is the one its route map draws: nothing of one convoy
    (positions, alerts, counts, checkpoints, escorts) lands on another."""
    with session_scope() as s:
        together = campaign_view(s, CAMPAIGN, max_track_points=2000)
        for view in together.convoys:
            assert view == convoy_view(s, view.code)
    assert {len(v.track) > 0 for v in together.convoys} == {True, False}


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
    tracks = {c.code: len(c.track) for c in campaign.convoys}  # for the campaign replay
    assert tracks == {"TRAIN-O1": 12, "FLIGHT-O1": 0, "BUS-O1": 0}
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
    assert "各阶段趟次" in summary and "途中" in summary and "已计划" in summary
    assert "看护中" in summary and "58" in summary
    assert "未处理告警：1" in summary and "偏航" in summary
    assert_chinese_controls(dom)
    assert dom["libraries"] == ["L"]


def test_badges_of_one_origin_spread_apart_and_carry_the_code(
    browser: HeadlessChromium, saved: dict[str, Path]
) -> None:
    """The three test convoys leave from the same place: their badges must not hide each
    other, at any zoom, and each names its convoy."""
    page = browser.open(saved["folder"].as_uri(), settle_ms=400)
    try:
        texts = page.evaluate(
            """[...document.querySelectorAll(".convoy-marker-count")].map((e) => e.innerText)"""
        )
        for zoom in (None, 5, 9):
            found = hidden(page, zoom)
            assert found["flagOnTop"]
            assert [c for c in found["covered"] if c[1] and "leaflet-marker-icon" in c[1]] == []
    finally:
        page.close()
    assert sorted(texts) == ["BUS-O1 20", "FLIGHT-O1 20", "TRAIN-O1 20"]


def test_a_long_alert_list_opens_and_clusters_are_not_status_coloured(
    browser: HeadlessChromium, campaign: CampaignView, tmp_path: Path
) -> None:
    """30 open alerts: eight listed, the other 22 behind "还有 22 条" that opens on a click;
    the enterprise cluster badge is teal, not the plugin's green/yellow/orange."""
    busy = replace(
        campaign,
        convoys=tuple(
            replace(
                c,
                alerts=tuple(
                    ("stopped", f"【停留】{c.code} 已 {95 + i} 分钟未移动") for i in range(10)
                ),
            )
            for c in campaign.convoys
        ),
    )
    html = save_offline(overview_map(busy, options=MapOptions()), tmp_path / "busy.html")
    page = browser.open(html.as_uri(), width=1400, height=900, settle_ms=300)
    try:
        found = page.evaluate(
            """(() => {
                const list = document.querySelector(".convoy-summary .convoy-alert-list");
                const details = list.querySelector("details");
                const before = details.open;
                details.querySelector("summary").click();
                const cluster = document.querySelector(".convoy-cluster");
                return {
                    before, after: details.open, more: details.querySelector("summary").innerText,
                    items: list.querySelectorAll("li").length, first: list.querySelector("li")
                        .innerText,
                    cluster: cluster ? getComputedStyle(cluster).backgroundColor : null,
                };
            })()"""
        )
    finally:
        page.close()
    assert not found["before"] and found["after"]
    assert found["more"].startswith("还有 22 条") and found["items"] == 30
    assert found["first"].endswith("已 1 小时 35 分钟未移动")  # humanised
    assert found["cluster"] == "rgb(22, 160, 133)"


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
