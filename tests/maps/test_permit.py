"""The permit route map renderer: route, site, entrances; offline; input checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from maps.basemap import has_basemap
from maps.chromium import HeadlessChromium
from maps.offline import save_offline
from maps.permit import permit_map
from maps.style import MapOptions
from models.errors import ValidationError
from tests.maps.mapcheck import assert_chinese_controls, assert_offline_files, decoded, load

ROUTE = [(29.905, 121.62), (29.90, 121.64), (29.892, 121.66), (29.885, 121.675), (29.879, 121.69)]
SITE = (29.877, 121.695)
GATES = [("东门", 29.8785, 121.6935), ("南门", 29.8755, 121.696)]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("permit")
    m = permit_map(ROUTE, SITE, GATES, title="NB-2020-0012", site_name="北仑工地",
                   options=MapOptions())  # fmt: skip
    return {
        "inline": save_offline(m, root / "inline" / "permit.html"),
        "folder": save_offline(m, root / "folder" / "permit.html", mode="folder"),
    }


@pytest.mark.parametrize("mode", ["inline", "folder"])
def test_permit_map_renders_offline(
    browser: HeadlessChromium, saved: dict[str, Path], mode: str
) -> None:
    dom: dict[str, Any] = load(browser, saved[mode])
    assert dom["permitRoutes"] == 1
    mk = dom["markers"]
    assert (mk["start"], mk["site"], mk["entrance"]) == (1, 1, 2)
    assert {"出入口：东门", "出入口：南门"} <= set(dom["permanentLabels"])
    assert dom["fullscreen"] == 1 and dom["legend"] == 1
    assert "NB-2020-0012" in dom["panelText"]
    assert_chinese_controls(dom)
    assert dom["libraries"] == ["L"]


def test_english_map_keeps_miles_and_english_titles(
    browser: HeadlessChromium, tmp_path: Path
) -> None:
    m = permit_map(ROUTE, SITE, GATES, options=MapOptions(locale="en"))
    dom = load(browser, save_offline(m, tmp_path / "en.html"))
    assert "Zoom in" in dom["controlTitles"] and "Layers" in dom["controlTitles"]
    assert len(dom["scaleLines"]) == 2  # km and miles


def test_permit_files_have_no_remote_url(saved: dict[str, Path]) -> None:
    for path in saved.values():
        assert_offline_files(path)
    assert "北仑工地" in decoded(saved["inline"].read_text(encoding="utf-8"))


def test_permit_basemap_and_tiles() -> None:
    assert has_basemap(permit_map(ROUTE, SITE, GATES, options=MapOptions()))
    tiles = MapOptions(tile_url="http://10.0.0.5/t/{z}/{x}/{y}.png", tile_crs="gcj02")
    m = permit_map(ROUTE, SITE, GATES, options=tiles)
    assert not has_basemap(m)
    assert "29.877, 121.695" not in m.get_root().render()  # drawn shifted to GCJ-02


def test_permit_input_is_checked() -> None:
    with pytest.raises(ValidationError, match="at least two points"):
        permit_map([(29.9, 121.6)], SITE)
    with pytest.raises(ValidationError, match="not a \\(latitude, longitude\\) pair"):
        permit_map(ROUTE, ("north", 1))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="outside the range"):
        permit_map(ROUTE, SITE, [("X", 95.0, 121.0)])
