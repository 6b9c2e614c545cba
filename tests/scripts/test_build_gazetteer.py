"""The gazetteer build script: it converts with the runtime's own GCJ-02 code; short names."""

from __future__ import annotations

from models.geo import datums
from scripts import build_gazetteer


def test_build_script_uses_the_runtime_gcj02_conversion() -> None:
    assert build_gazetteer.gcj02_to_wgs84 is datums.gcj02_to_wgs84


def test_short_names() -> None:
    assert build_gazetteer.short_name("本溪满族自治县", "county", ["满族"]) == "本溪"
    assert build_gazetteer.short_name("象山县", "county", []) == "象山"
    assert build_gazetteer.short_name("广西壮族自治区", "province", ["壮族"]) == "广西"
    assert build_gazetteer.short_name("城区", "county", []) == ""
