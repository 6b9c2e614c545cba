"""The campaign report's structure and renderers: sections added later (the enterprise desk,
further pass figures) show in every format; the HTML page is self-contained and draws its
charts with no network."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from config import Settings
from models.db import session_scope
from models.views import report_sections
from models.views.report_html import render_html, write_html
from models.views.report_render import report_markdown, show, write_csv, write_xlsx
from tests.browser import Browser, launch, screenshot


def _report(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    real = report_sections.campaign_figures

    def with_hotline(session: Any, campaign: str | None = None) -> dict[str, Any]:
        return {**real(session, campaign), "hotline": {"calls": 12, "resolved": 11},
                "extra_rate": 0.5}  # fmt: skip

    monkeypatch.setattr(report_sections, "campaign_figures", with_hotline)
    with session_scope() as session:
        return report_sections.campaign_report(session)


def test_new_sections_show_in_every_format(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    report = _report(monkeypatch)
    keys = [s["key"] for s in report["sections"]]
    assert keys[:2] == ["operation", "people"] and "hotline" in keys and keys[-1] == "other"
    assert "desk" in keys  # the enterprise service desk has its own section
    extra = next(s for s in report["sections"] if s["key"] == "hotline")
    assert {r["key"]: r["value"] for r in extra["rows"]} == {
        "hotline.calls": 12,
        "hotline.resolved": 11,
    }
    assert "hotline.calls" in report_markdown(report)
    rows = list(csv.DictReader(write_csv(report, tmp_path / "r.csv").open(encoding="utf-8-sig")))
    assert {"hotline.calls", "extra_rate", "workers_escorted"} <= {r["key"] for r in rows}
    sheet = load_workbook(write_xlsx(report, tmp_path / "r.xlsx"))["figures"]
    assert "hotline.calls" in [c.value for c in sheet["B"]]
    assert "hotline.calls" in render_html(report)


def test_figures_read_as_people_read_them() -> None:
    assert show(None) == "—" and show(0.9123, "%") == "91.2%" and show(24.5, "min") == "24.5"


@pytest.fixture
def browser() -> Iterator[Browser]:
    with launch() as b:
        yield b


def test_the_html_report_draws_its_charts_offline(browser: Browser, tmp_path: Path) -> None:
    trips = {"key": "trips", "label": "车次", "value": 26, "unit": ""}
    rate = {"key": "on_time_rate", "label": "准点率", "value": 0.75, "unit": "%"}
    sections = [
        {"key": "operation", "title": "行动概况", "rows": [trips],
         "chart": {"kind": "pie", "data": {"专列": 15, "包机": 11}}},
        {"key": "punctuality", "title": "准点", "rows": [rate],
         "chart": {"kind": "bar", "data": {"<b>x</b>": 3}}},
    ]  # fmt: skip
    ents = [{"enterprise": "宁波甬华电子有限公司", "workers": 40, "handoffs": 2}]
    report = {"campaign": "宁波2020复工返岗", "locale": "zh-CN", "figures": {},
              "sections": sections, "tables": {"enterprises": ents}}  # fmt: skip
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "campaign-x.html").write_text("<html></html>")
    page_file = write_html(report, tmp_path / "out" / "report.html",
                           maps={"全局态势图": maps / "campaign-x.html"})  # fmt: skip
    text = page_file.read_text(encoding="utf-8")
    assert "href='../maps/campaign-x.html'" in text and "<b>x</b>" not in text.split("<script>")[0]
    ctx = browser.context()
    page = ctx.new_page()
    page.set_content(text, wait_until="load")
    page.wait_for_function("document.querySelectorAll('.chart canvas').length === 2")
    assert page.inner_text("#s-punctuality").count("75.0%") == 1
    screenshot(page, "campaign-report")
    ctx.close()
    assert browser.watch.problems() == []
