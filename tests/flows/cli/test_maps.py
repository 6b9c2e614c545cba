"""`convoy map` through typer's runner: convoy and campaign maps, PNG, errors; the flow's map."""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from config import Settings
from flows.cli.maps import register
from maps.chromium import find_chromium
from maps.files import campaign_file_name, save_campaign_map, save_convoy_map
from tests.maps.mapcheck import assert_offline_files, leaks, personal_data, put_in_the_field

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:  # a group, so that "map" stays a subcommand as in `convoy`
        """Test app."""

    register(app)
    return app


def convoy(*args: str) -> tuple[int, str]:
    result = runner.invoke(_app(), list(args))
    return result.exit_code, result.output


def test_map_writes_a_convoy_map(make_convoy: Callable[..., str], settings: Settings) -> None:
    code = make_convoy("BUS-C1", n=15)
    put_in_the_field(code)
    status, out = convoy("map", code, "--json")
    assert status == 0, out
    files = json.loads(out)
    html = Path(files["html"])
    assert html == settings.output_dir / "maps" / "BUS-C1.html"
    assert (html.parent / "assets" / "vendor" / "leaflet" / "leaflet.js").is_file()
    assert_offline_files(html)
    assert leaks(html.read_text(encoding="utf-8"), personal_data()) == []


def test_map_writes_a_campaign_overview(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    make_convoy("BUS-C2", n=10)
    make_convoy("BUS-C3", n=10, seed=5)
    status, out = convoy("map", "--campaign", "test campaign", "--inline")
    assert status == 0, out
    html = settings.output_dir / "maps" / campaign_file_name("test campaign")
    assert html.name == "campaign-test-campaign.html" and html.is_file()
    assert str(html) in out.replace("\n", "")
    assert not (html.parent / "assets").exists()  # --inline: one self-contained file
    text = html.read_text(encoding="utf-8")
    assert text.count("convoy-overview-route") >= 2
    assert_offline_files(html)
    assert leaks(text, personal_data()) == []


def test_map_errors_are_one_line(make_convoy: Callable[..., str], settings: Settings) -> None:
    make_convoy("BUS-C4", n=3)
    for args, message in [
        (("map",), "Name either a convoy code"),
        (("map", "BUS-C4", "--campaign", "test campaign"), "not both"),
        (("map", "BUS-C5"), "There is no convoy with the code 'BUS-C5'. Did you mean BUS-C4?"),
        (("map", "--campaign", "nope"), "There is no campaign named 'nope'."),
    ]:
        status, out = convoy(*args)
        assert status == 1, (args, out)
        assert message in out.replace("\n", " "), (args, out)
        assert "Traceback" not in out


def test_gcj02_without_tiles_is_a_clear_error(
    make_convoy: Callable[..., str], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config import reset_settings

    make_convoy("BUS-C6", n=3)
    monkeypatch.setenv("CONVOY_TILE_CRS", "gcj02")
    reset_settings()
    status, out = convoy("map", "BUS-C6")
    assert status == 1 and "no tile URL is set" in out.replace("\n", " ")


@pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed.")
def test_map_png(make_convoy: Callable[..., str], settings: Settings) -> None:
    code = make_convoy("BUS-C7", n=8)
    put_in_the_field(code)
    status, out = convoy("map", code, "--png", "--json")
    assert status == 0, out
    png = Path(json.loads(out)["png"])
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1400, 900)
    assert len(data) > 40_000  # a real map, not a blank page


def test_writers_return_the_files(make_convoy: Callable[..., str], settings: Settings) -> None:
    code = make_convoy("BUS-C8", n=5)
    convoy_html = save_convoy_map(code)
    overview = save_campaign_map("test campaign", path=settings.output_dir / "x" / "o.html")
    assert convoy_html.is_file() and overview == settings.output_dir / "x" / "o.html"
    assert re.search(r"convoy-route-planned", convoy_html.read_text(encoding="utf-8"))
