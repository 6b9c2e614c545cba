"""The vendored asset tree matches its manifest and covers what folium links."""

from __future__ import annotations

import ast
import hashlib
import json
import re
from pathlib import Path

import folium
import pytest
from folium import plugins

from maps.offline import ASSETS_DIR, find_external_urls

MANIFEST = json.loads((ASSETS_DIR / "manifest.json").read_text(encoding="utf-8"))
VENDOR = ASSETS_DIR / "vendor"
SUPPORTED = [
    folium.Map,
    plugins.MarkerCluster,
    plugins.Fullscreen,
    plugins.TimestampedGeoJson,
    plugins.HeatMapWithTime,
]


def test_every_file_matches_the_manifest() -> None:
    listed = MANIFEST["files"]
    on_disk = {p.relative_to(ASSETS_DIR).as_posix() for p in VENDOR.rglob("*") if p.is_file()}
    assert on_disk == set(listed)
    for rel, meta in listed.items():
        data = (ASSETS_DIR / rel).read_bytes()
        assert len(data) == meta["bytes"], rel
        assert hashlib.sha256(data).hexdigest() == meta["sha256"], rel


def test_total_size_is_reasonable() -> None:
    total = sum(meta["bytes"] for meta in MANIFEST["files"].values())
    assert total < 2_000_000


@pytest.mark.parametrize("cls", SUPPORTED, ids=lambda c: c.__name__)
def test_folium_urls_of_supported_elements_are_vendored(cls: type) -> None:
    for attr in ("default_js", "default_css"):
        for _name, url in getattr(cls, attr, []):
            if cls is plugins.HeatMapWithTime and "python-visualization" in url:
                continue  # HeatMapWithTime's own scripts are not vendored (not used)
            assert url in MANIFEST["urls"], f"{cls.__name__} links {url}, which is not vendored"
            assert (ASSETS_DIR / MANIFEST["urls"][url]).is_file()


def test_every_package_has_a_licence_and_a_sources_entry() -> None:
    sources = (ASSETS_DIR / "SOURCES.md").read_text(encoding="utf-8")
    for package in MANIFEST["packages"]:
        folder = VENDOR / package["key"]
        licences = [p for p in folder.iterdir() if re.match(r"(MIT-)?LICEN[CS]E", p.name)]
        assert licences, f"{folder} has no licence file"
        assert f"`vendor/{package['key']}/`" in sources
        assert f"| {package['version']} |" in sources
        assert package["licence"]


def test_stylesheets_only_refer_to_local_files() -> None:
    for css in VENDOR.rglob("*.css"):
        text = css.read_text(encoding="utf-8")
        assert find_external_urls(text) == [], css
        assert "//netdna" not in text and "sourceMappingURL" not in text, css
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", text):
            if not url.startswith(("data:", "#")):
                assert (css.parent / url.split("?")[0]).is_file(), (css, url)
        for src in re.findall(r"src\s*:[^;}]*", text):
            assert ".ttf" not in src and ".eot" not in src, css


def test_scripts_carry_no_source_map_reference() -> None:
    for js in VENDOR.rglob("*.js"):
        assert "sourceMappingURL" not in js.read_text(encoding="utf-8"), js


MAPS_DIR = Path(__file__).parents[2] / "maps"


@pytest.mark.parametrize("module", sorted(p.name for p in MAPS_DIR.glob("*.py")))
def test_runtime_modules_respect_the_layering(module: str) -> None:
    """maps/ may import config and models, never flows or prefect; no shapely at run time."""
    tree = ast.parse((MAPS_DIR / module).read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    assert not roots & {"flows", "prefect", "shapely", "requests", "httpx"}
