"""Make folium maps work with no network: vendored assets, no CDN links, no online tiles.

folium links Leaflet, jQuery, Bootstrap, Font Awesome and every plugin from public CDNs and
draws OpenStreetMap tiles; on an isolated police network such a map fails with
``L is not defined``. This module renders a map against the files vendored under
``maps/assets/vendor`` (see ``maps/assets/SOURCES.md``):

* :func:`new_map` builds a map the offline way from the start (no OpenStreetMap layer; an
  own tile server when one is configured, otherwise the embedded boundary basemap);
* :func:`render_offline` / :func:`save_offline` walk the whole element tree (the map, every
  child, plugins, links added to the page header) and replace every ``default_js`` /
  ``default_css`` URL by a vendored file. ``mode="inline"`` writes one self-contained HTML file
  (scripts and styles inlined, fonts and images as ``data:`` URIs) that can be mailed or
  copied alone; ``mode="folder"`` writes the HTML plus a shared ``assets/`` folder beside it
  (smaller files when many maps sit together). A URL without a vendored copy raises
  :class:`OfflineAssetError` instead of leaving a CDN link behind;
* :func:`find_external_urls` lists what a page or stylesheet would still fetch from elsewhere.

Rendering a saved map to PNG with headless Chromium is :mod:`maps.chromium`.

The map object is left as it was: changes needed for rendering are undone afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import folium
from branca.element import Element, Figure, Link

from maps import boundaries
from maps.basemap import BasemapLevel, add_basemap, has_basemap
from maps.leaflet import raw_rendering
from models.errors import ConfigurationError, ConvoyOpsError
from models.labels import label

__all__ = [
    "ASSETS_DIR",
    "OfflineAssetError",
    "OfflineMapError",
    "OfflineMode",
    "asset_urls",
    "find_external_urls",
    "new_map",
    "render_offline",
    "save_offline",
]

OfflineMode = Literal["inline", "folder"]

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
MANIFEST_FILE = ASSETS_DIR / "manifest.json"

_PLACEHOLDER = "convoy-offline-asset:"
_SCRIPT_TAG = re.compile(r'<script src="' + re.escape(_PLACEHOLDER) + r'([^"]+)"></script>')
_CSS_TAG = re.compile(r'<link rel="stylesheet" href="' + re.escape(_PLACEHOLDER) + r'([^"]+)"/>')
_CSS_URL = re.compile(r"url\(\s*(['\"]?)([^'\")]+)\1\s*\)")
# Set on maps made by new_map: their tiles/basemap were chosen on purpose, keep them as they are.
_NEW_MAP_MARK = "_convoy_offline_map"
_OSM_HOSTS = (
    "tile.openstreetmap.org",
    "a.tile.openstreetmap.org",
    "b.tile.openstreetmap.org",
    "c.tile.openstreetmap.org",
    "{s}.tile.openstreetmap.org",
)


class OfflineMapError(ConvoyOpsError):
    """A map could not be made to work without a network connection."""


class OfflineAssetError(OfflineMapError):
    """A map needs a script, stylesheet, font or image that has no vendored local copy."""


# --------------------------------------------------------------------------- manifest


@lru_cache(maxsize=1)
def _manifest() -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(MANIFEST_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise OfflineAssetError(
            f"The asset manifest {MANIFEST_FILE} is missing; run python -m scripts.fetch_assets "
            "to vendor the map assets again."
        ) from exc
    return data


def _local_asset(url: str) -> str:
    """The vendored file (path relative to ``maps/assets``) for a CDN URL, or raise."""
    if url.startswith(_PLACEHOLDER):
        local = url[len(_PLACEHOLDER) :]
        if local.startswith(boundaries.ASSET_PREFIX) and not boundaries.is_asset(local):
            raise OfflineAssetError(
                f"The basemap script {local} has no data file under maps/assets/basemap; run "
                "python -m scripts.build_basemap to rebuild the basemap."
            )
        return local
    urls: dict[str, str] = _manifest()["urls"]
    path = urls.get(url.strip())
    if path is None:
        raise OfflineAssetError(
            f"The map needs {url}, which has no vendored offline copy; add the package to "
            "scripts/fetch_assets.py (or stop using the plugin that loads it) so that the "
            "map does not depend on the internet."
        )
    if not (ASSETS_DIR / path).is_file():
        raise OfflineAssetError(
            f"The vendored file maps/assets/{path} for {url} is missing; run "
            "python -m scripts.fetch_assets to restore the offline assets."
        )
    return path


def asset_urls(m: folium.Map) -> dict[str, str]:
    """Every script/stylesheet URL the map's element tree links, mapped to its vendored file.

    Raises :class:`OfflineAssetError` for a URL that has no vendored copy.
    """
    found: dict[str, str] = {}
    for element in _walk(_figure(m)):
        for url in _element_urls(element):
            found[url] = _local_asset(url)
    return found


# --------------------------------------------------------------------------- tree walking


def _walk(root: Element) -> Iterator[Element]:
    """The element and all its descendants (a Figure's header, html and script included)."""
    stack: list[Element] = [root]
    seen: set[int] = set()
    while stack:
        element = stack.pop()
        if id(element) in seen:
            continue
        seen.add(id(element))
        yield element
        stack.extend(reversed(list(element._children.values())))
        if isinstance(element, Figure):
            stack.extend([element.script, element.html, element.header])


def _element_urls(element: Element) -> list[str]:
    urls = []
    for attr in ("default_js", "default_css"):
        for _name, url in getattr(element, attr, None) or ():
            urls.append(url)
    if isinstance(element, Link):
        urls.append(element.url)
    return urls


class _Undo:
    """Attribute and tree changes that are reverted after rendering."""

    def __init__(self) -> None:
        self._steps: list[Callable[[], None]] = []

    def set_attr(self, obj: object, name: str, value: object) -> None:
        had = name in vars(obj)
        old = vars(obj).get(name)
        setattr(obj, name, value)
        if had:
            self._steps.append(lambda: setattr(obj, name, old))
        else:
            self._steps.append(lambda: delattr(obj, name))

    def keep_children(self, element: Element) -> None:
        """Restore the element's children (order included) as they are now."""
        snapshot = element._children.copy()

        def restore() -> None:
            element._children = snapshot

        self._steps.append(restore)

    def undo(self) -> None:
        while self._steps:
            self._steps.pop()()


def _remap_links(root: Element, undo: _Undo) -> None:
    """Point every ``default_js``/``default_css`` entry and Link element at a placeholder."""
    for element in _walk(root):
        for attr in ("default_js", "default_css"):
            links = getattr(element, attr, None)
            if links:
                remapped = [(name, _PLACEHOLDER + _local_asset(url)) for name, url in links]
                undo.set_attr(element, attr, remapped)
        if isinstance(element, Link):
            undo.set_attr(element, "url", _PLACEHOLDER + _local_asset(element.url))


# --------------------------------------------------------------------------- tiles


def _is_default_osm(layer: folium.TileLayer) -> bool:
    host = urlsplit(str(layer.tiles)).hostname or ""
    return host in _OSM_HOSTS or host.endswith(".tile.openstreetmap.org")


def _is_remote(url: str) -> bool:
    return url.startswith("//") or urlsplit(url).scheme in ("http", "https", "ftp")


def _check_tile_url(tile_url: str) -> None:
    if not all(part in tile_url for part in ("{z}", "{x}")) or not (
        "{y}" in tile_url or "{-y}" in tile_url
    ):
        raise ConfigurationError(
            f"The tile URL {tile_url!r} is not a tile template; it must contain {{z}}, {{x}} "
            "and {y}, for example http://tiles.example.local/{z}/{x}/{y}.png."
        )


def _tile_layer(tile_url: str, tile_attribution: str) -> folium.TileLayer:
    _check_tile_url(tile_url)
    host = urlsplit(tile_url).hostname or "local tile server"
    return folium.TileLayer(
        tiles=tile_url,
        attr=tile_attribution or f"Tiles: {host}",
        name="瓦片底图",
        max_zoom=18,
    )


def _prepare_tiles(m: folium.Map, tile_url: str, tile_attribution: str, undo: _Undo) -> None:
    """Drop OpenStreetMap, refuse other online tiles, add the own tiles or the basemap."""
    parents: list[tuple[Element, str, folium.TileLayer]] = []
    for element in _walk(m):
        for key, child in element._children.items():
            if isinstance(child, folium.TileLayer):
                parents.append((element, key, child))
    has_tiles = False
    for parent, key, layer in parents:
        url = str(layer.tiles)
        if tile_url and url == tile_url:
            has_tiles = True
        elif _is_default_osm(layer):
            undo.keep_children(parent)
            del parent._children[key]
        elif _is_remote(url):
            raise OfflineMapError(
                f"The map has a tile layer that loads {url}, which is not reachable offline; "
                "build the map with maps.offline.new_map or pass tile_url= with the own tile "
                "server."
            )
        else:
            has_tiles = True  # tiles from a local folder next to the map
    if tile_url and not has_tiles:
        _insert_first(m, _tile_layer(tile_url, tile_attribution), undo)
        has_tiles = True
    if "max_zoom" not in m.options:
        # Without tiles Leaflet has no maximum zoom, and MarkerCluster refuses to start.
        undo.set_attr(m, "options", {**m.options, "max_zoom": 18})
    if not has_tiles and not has_basemap(m) and not getattr(m, _NEW_MAP_MARK, False):
        undo.keep_children(m)
        undo.keep_children(_figure(m).header)
        add_basemap(m, level="province", index=0)


def _figure(m: folium.Map) -> Figure:
    figure = m.get_root()
    if not isinstance(figure, Figure):
        raise OfflineMapError("The map is not part of a page (folium Figure); it cannot be saved.")
    return figure


def _insert_first(m: folium.Map, child: Element, undo: _Undo) -> None:
    undo.keep_children(m)
    m.add_child(child, index=0)


# --------------------------------------------------------------------------- map building


def new_map(
    location: Sequence[float],
    zoom_start: int,
    *,
    tile_url: str = "",
    tile_attribution: str = "",
    basemap: Literal["auto", "province", "city", "district", "none"] = "auto",
    basemap_provinces: Sequence[str] | None = None,
    min_zoom: int = 3,
    max_zoom: int = 18,
    **map_kwargs: Any,
) -> folium.Map:
    """A folium map built for offline use.

    ``location`` is ``(lat, lon)`` in WGS-84. With ``tile_url`` (an own tile server, e.g.
    ``http://10.0.0.5/tiles/{z}/{x}/{y}.png``) the map draws those tiles; without one it has no
    tile layer at all and shows the embedded boundary basemap instead. ``basemap="auto"`` adds
    the province basemap only when there are no tiles; name a level to add it anyway (as a
    transparent overlay above tiles), or ``"none"`` for no basemap (kept by
    :func:`save_offline`, which otherwise adds one to maps without tiles). ``basemap_provinces``
    limits the city/district levels to some provinces (names or 2-digit codes, e.g. ``"33"``).
    ``min_zoom``/``max_zoom`` bound the map's zoom (Leaflet needs a maximum when there are
    no tiles). Other keyword arguments go to :class:`folium.Map`.
    """
    if "tiles" in map_kwargs:
        raise TypeError("new_map() takes tile_url= instead of tiles=.")
    m = folium.Map(location=list(location), zoom_start=zoom_start, tiles=None, **map_kwargs)
    m.options["min_zoom"] = int(min_zoom)
    m.options["max_zoom"] = int(max_zoom)
    setattr(m, _NEW_MAP_MARK, True)
    if tile_url:
        _tile_layer(tile_url, tile_attribution).add_to(m)
    level: BasemapLevel | None
    if basemap == "auto":
        level = None if tile_url else "province"
    elif basemap == "none":
        level = None
    else:
        level = basemap
    if level is not None:
        add_basemap(
            m,
            level=level,
            provinces=basemap_provinces,
            fill_opacity=0.0 if tile_url else 1.0,
        )
    return m


# --------------------------------------------------------------------------- rendering


def render_offline(
    m: folium.Map,
    *,
    mode: OfflineMode = "inline",
    tile_url: str = "",
    tile_attribution: str = "",
    asset_prefix: str = "assets",
) -> str:
    """The map's HTML with every CDN link replaced by a vendored file.

    ``mode="inline"``: a self-contained page (nothing else is needed). ``mode="folder"``:
    scripts and stylesheets are linked as ``{asset_prefix}/vendor/…`` relative to the page;
    :func:`save_offline` copies the files there. Tile handling: see :func:`save_offline`.
    The map object is not changed.
    """
    if mode not in ("inline", "folder"):
        raise ValueError(f"The offline mode must be 'inline' or 'folder', not {mode!r}.")
    undo = _Undo()
    try:
        root = _figure(m)
        undo.keep_children(root.header)  # rendering adds the links there
        _prepare_tiles(m, tile_url, tile_attribution, undo)
        _remap_links(root, undo)
        with raw_rendering():  # folium's parts placed as they are, not compiled again
            html = root.render()
    finally:
        undo.undo()
    if mode == "inline":
        html = _inline_assets(html)
    else:
        html = _folder_links(html, asset_prefix.rstrip("/"))
        html = _with_missing_notice(html, str(getattr(m, "convoy_locale", "zh-CN")))
    if _PLACEHOLDER in html:
        raise OfflineAssetError(
            "The map still links an asset through an unexpected tag; render_offline could not "
            "replace it."
        )
    remote = find_external_urls(html)
    if remote:
        raise OfflineAssetError(
            f"The map would still load {', '.join(remote[:5])} from the network; remove it "
            "(e.g. an image in a popup) or vendor it, so that the map works offline."
        )
    return html


def save_offline(
    m: folium.Map,
    path: str | os.PathLike[str],
    *,
    mode: OfflineMode = "inline",
    tile_url: str = "",
    tile_attribution: str = "",
) -> Path:
    """Save the map as an HTML file that works with no network; return its path.

    Tiles: folium's default OpenStreetMap layer is dropped. With ``tile_url`` (own tile server)
    a tile layer for it is added unless the map has one; without it, a map that has no tiles
    gets the embedded province basemap. Any other online tile layer raises
    :class:`OfflineMapError`. In ``"folder"`` mode the needed vendored packages are copied into
    an ``assets/`` folder beside the file (shared by all maps in that folder).
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    html = render_offline(m, mode=mode, tile_url=tile_url, tile_attribution=tile_attribution)
    if mode == "folder":
        _copy_assets(html, out.parent / "assets")
    _write_atomically(out, html.encode("utf-8"))
    return out


def _write_atomically(target: Path, data: bytes) -> None:
    """Write ``target`` whole or not at all: into a temporary file of this writer's own in the
    same folder, then renamed over it. Maps published at the same time (one per convoy flow)
    share the folder's assets: a reader never sees half a file, and two writers of the same
    file never rename each other's temporary file away."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_asset(path: str) -> str:
    if path.startswith(boundaries.ASSET_PREFIX):
        return boundaries.asset_text(path)
    return (ASSETS_DIR / path).read_text(encoding="utf-8")


@lru_cache(maxsize=64)
def _data_uri(path: str) -> str:
    file = ASSETS_DIR / path
    mime = (
        {
            ".woff2": "font/woff2",
            ".woff": "font/woff",
            ".svg": "image/svg+xml",
            ".png": "image/png",
        }.get(file.suffix)
        or mimetypes.guess_type(file.name)[0]
        or "application/octet-stream"
    )
    return f"data:{mime};base64,{base64.b64encode(file.read_bytes()).decode('ascii')}"


@lru_cache(maxsize=32)
def _css_with_data_uris(path: str) -> str:
    """A vendored stylesheet whose relative ``url()`` references are ``data:`` URIs."""
    base = (ASSETS_DIR / path).parent

    def replace(match: re.Match[str]) -> str:
        url = match.group(2).strip()
        if url.startswith(("data:", "#")):
            return match.group(0)
        target = (base / url.split("?")[0].split("#")[0]).resolve()
        if _is_remote(url) or not target.is_file() or ASSETS_DIR not in target.parents:
            raise OfflineAssetError(
                f"The stylesheet maps/assets/{path} refers to {url}, which is not a vendored "
                "file; run python -m scripts.fetch_assets to rebuild the assets."
            )
        return f'url("{_data_uri(target.relative_to(ASSETS_DIR).as_posix())}")'

    return _CSS_URL.sub(replace, _read_asset(path))


def _leaflet_icon_fix() -> str:
    """Leaflet finds its default marker images through a CSS URL; give it data URIs instead."""
    images = "vendor/leaflet/images/"
    return (
        '<script>L.Icon.Default.imagePath="";L.Icon.Default.mergeOptions({'
        f'iconUrl:"{_data_uri(images + "marker-icon.png")}",'
        f'iconRetinaUrl:"{_data_uri(images + "marker-icon-2x.png")}",'
        f'shadowUrl:"{_data_uri(images + "marker-shadow.png")}"}});</script>'
    )


def _inline_assets(html: str) -> str:
    seen: set[str] = set()

    def script(match: re.Match[str]) -> str:
        path = match.group(1)
        if path in seen:
            return ""
        seen.add(path)
        code = _read_asset(path)
        if re.search(r"</script|<!--", code, re.I):
            tag = f'<script src="{_data_uri(path)}"></script>'
        else:
            tag = f"<script>\n{code}\n</script>"
        if path == "vendor/leaflet/leaflet.js":
            tag += _leaflet_icon_fix()
        return tag

    def style(match: re.Match[str]) -> str:
        path = match.group(1)
        if path in seen:
            return ""
        seen.add(path)
        css = _css_with_data_uris(path)
        if re.search(r"</style", css, re.I):
            encoded = base64.b64encode(css.encode("utf-8")).decode("ascii")
            return f'<link rel="stylesheet" href="data:text/css;base64,{encoded}"/>'
        return f"<style>\n{css}\n</style>"

    html = _SCRIPT_TAG.sub(lambda mt: script(mt), html)
    html = _CSS_TAG.sub(lambda mt: style(mt), html)
    return _drop_unused_font_faces(html)


_FONT_FACE = re.compile(r"@font-face\s*\{[^{}]*\}")
_FONT_FAMILY = re.compile(r"font-family\s*:\s*([\"']?)([^;\"'}]+)\1", re.I)


def _drop_unused_font_faces(html: str) -> str:
    """Remove ``@font-face`` rules whose family nothing else on the page names.

    Font Awesome declares its fonts again under the Font Awesome 5 and 4 family names for old
    stylesheets; inlined, every alias would repeat the whole font as a data URI.
    """
    rest = _FONT_FACE.sub("", html).lower()

    def keep(match: re.Match[str]) -> str:
        family = _FONT_FAMILY.search(match.group(0))
        if family is None:
            return match.group(0)
        name = re.escape(family.group(2).strip().lower())
        used = re.search(rf"([\"']){name}\1|font(?:-family)?\s*:[^;{{}}]*\b{name}\b", rest)
        return match.group(0) if used else ""

    return _FONT_FACE.sub(keep, html)


def _folder_links(html: str, prefix: str) -> str:
    seen: set[str] = set()

    def link(match: re.Match[str], template: str) -> str:
        path = match.group(1)
        if path in seen:
            return ""
        seen.add(path)
        return template.format(url=f"{prefix}/{path}")

    script = '<script src="{url}" onerror="convoyAssetMissing(this)"></script>'
    style = '<link rel="stylesheet" href="{url}" onerror="convoyAssetMissing(this)"/>'
    html = _SCRIPT_TAG.sub(lambda mt: link(mt, script), html)
    return _CSS_TAG.sub(lambda mt: link(mt, style), html)


_MISSING_NOTICE = """<script>
(function () {
    var missing = [], texts = %s;
    function show() {
        if (!missing.length || !document.body) { return; }
        var bar = document.getElementById("convoy-missing-assets");
        if (!bar) {
            bar = document.createElement("div");
            bar.id = "convoy-missing-assets";
            bar.setAttribute("role", "alert");
            bar.style.cssText = "position:fixed;z-index:100000;left:0;right:0;top:0;" +
                "padding:8px 12px;background:#fff3cd;color:#5c4400;" +
                "border-bottom:1px solid #e0c36a;font:14px/1.4 system-ui,sans-serif";
            document.body.appendChild(bar);
        }
        var text = missing.length > 1 ? texts.many : texts.one;
        bar.textContent = text.replace("{file}", missing[0]).replace("{n}", missing.length);
    }
    window.convoyAssetMissing = function (el) {
        missing.push(el.getAttribute("src") || el.getAttribute("href"));
        show();
    };
    document.addEventListener("DOMContentLoaded", show);
})();
</script>"""


def _with_missing_notice(html: str, locale: str) -> str:
    """A folder-mode page names, in one line on top, the shared files it could not load (a map
    copied without its ``assets/`` folder would otherwise be a blank page)."""
    texts = {
        "one": label("maps", "missing_asset", locale),
        "many": label("maps", "missing_assets", locale),
    }
    notice = _MISSING_NOTICE % json.dumps(texts, ensure_ascii=False).replace("</", "<\\/")
    head = html.find("<head>")
    at = head + len("<head>") if head != -1 else 0
    return html[:at] + notice + html[at:]


# The asset folders this process has checked or written, as (folder, package or script): a
# campaign writes dozens of maps into one folder, and comparing every vendored file each time
# cost a sixth of a map's build. A file removed since is noticed and written again.
_copied: set[tuple[str, str]] = set()


def _copy_assets(html: str, dest: Path) -> None:
    """Copy the vendored packages the page links (whole folders: licences included) and
    write the basemap layer scripts it links (each checked once per process and folder)."""
    packages = sorted(set(re.findall(r'(?:src|href)="assets/vendor/([^/"]+)/', html)))
    for package in packages:
        source = ASSETS_DIR / "vendor" / package
        files = _vendored_files(package)
        targets = [dest / "vendor" / package / f.relative_to(source) for f in files]
        key = (str(dest), package)
        if key in _copied and all(t.is_file() for t in targets):
            continue
        for file, target in zip(files, targets, strict=True):
            if target.is_file() and _same_file(file, target):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(target, file.read_bytes())
        _copied.add(key)
    # The basemap layer scripts: written once per folder, shared by its maps.
    for name in sorted(set(re.findall(r'src="assets/basemap/([^/"]+\.js)"', html))):
        target = dest / "basemap" / name
        key = (str(dest), name)
        if key in _copied and target.is_file():
            continue
        text = boundaries.asset_text(boundaries.ASSET_PREFIX + name).encode("utf-8")
        if not (target.is_file() and target.read_bytes() == text):
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(target, text)
        _copied.add(key)


@lru_cache(maxsize=64)
def _vendored_files(package: str) -> tuple[Path, ...]:
    """The files of a vendored package (package data: listed once per process)."""
    return tuple(f for f in sorted((ASSETS_DIR / "vendor" / package).rglob("*")) if f.is_file())


def _same_file(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    return hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


# --------------------------------------------------------------------------- checking

_RESOURCE_PATTERNS = (
    re.compile(
        r"<(?:script|img|iframe|audio|video|source|embed)\b[^>]*?\bsrc\s*=\s*[\"']?([^\"'\s>]+)",
        re.I,
    ),
    re.compile(r"<link\b[^>]*?\bhref\s*=\s*[\"']?([^\"'\s>]+)", re.I),
    re.compile(r"url\(\s*[\"']?([^\"')\s]+)", re.I),
    re.compile(r"@import\s+(?:url\()?\s*[\"']?([^\"')\s;]+)", re.I),
)


def find_external_urls(text: str) -> list[str]:
    """Resource URLs in HTML or CSS text that would be fetched from another machine.

    Looks at ``src=`` of scripts/images/frames, ``<link href=…>``, CSS ``url(…)`` and
    ``@import``: the places a browser loads from. Links a person may click (``<a href>``, the
    attribution) are not loads and are not reported.
    """
    found: list[str] = []
    for pattern in _RESOURCE_PATTERNS:
        for match in pattern.finditer(text):
            url = match.group(1)
            if _is_remote(url) and url not in found:
                found.append(url)
    return found
