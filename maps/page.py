"""The page around every Convoy Ops map: the offline base map, controls in the map's language,
collapsible panels, the stylesheet (screen and print) and the libraries the page loads.

* :func:`base_map` starts a map: no tiles unless configured, the boundary basemap, only the
  libraries our elements use (Leaflet and Font Awesome; plugins add their own), the zoom and
  scale controls with localised titles (metric only in zh-CN) and the stylesheet;
* :func:`finish_map` ends it: the fullscreen button and layer control with localised titles
  (and Leaflet's attribution link), added after every layer;
* :class:`InfoPanel` is a Leaflet control holding static HTML (legend, summary); a
  ``collapsible`` one gets a button in its heading and starts folded on small screens.

The print stylesheet hides the controls, keeps the status colours (``print-color-adjust``)
and unfolds the panels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import folium
from branca.element import Figure
from folium import plugins
from folium.template import Template

from maps.basemap import add_basemap, region_at
from maps.declutter import Declutter
from maps.leaflet import RawMacroElement, RawText
from maps.offline import new_map
from maps.style import MapOptions

__all__ = ["PAGE_CSS", "InfoPanel", "base_map", "finish_map"]

# folium.Map links jQuery, Bootstrap and Awesome Markers for its own popups and icons; the
# Convoy Ops elements draw with Leaflet and Font Awesome only.
_MAP_JS = [("leaflet", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js")]
_MAP_CSS = [
    ("leaflet_css", "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"),
    (
        "awesome_markers_font_css",
        "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css",
    ),
]

_FONT = '"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", "WenQuanYi Micro Hei", sans-serif'

PAGE_CSS = f"""
<style>
.folium-map.leaflet-container {{ font-family: system-ui, {_FONT}; }}
.convoy-marker {{ background: none; border: none; }}
.convoy-badge {{ box-sizing: border-box; border: 2px solid #fff; border-radius: 50%;
  color: #fff; text-align: center; box-shadow: 0 1px 4px rgba(0,0,0,.45);
  white-space: nowrap; font-family: system-ui, {_FONT}; font-weight: 600; position: relative; }}
.convoy-badge-text {{ padding: 0 4px; }}
.convoy-marker-count .convoy-badge {{ border-radius: 11px; }}
.convoy-leader {{ position: absolute; height: 0; border-top: 1.5px solid rgba(40,40,40,.75);
  transform-origin: 0 0; pointer-events: none; z-index: -1; }}
.convoy-leader::after {{ content: ""; position: absolute; right: -3px; top: -3.5px;
  width: 5px; height: 5px; border-radius: 50%; background: rgba(40,40,40,.85); }}
.convoy-panel {{ background: rgba(255,255,255,.95); padding: 8px 10px; border-radius: 6px;
  box-shadow: 0 1px 5px rgba(0,0,0,.35); font: 12px/1.45 system-ui, {_FONT}; color: #222;
  max-width: min(320px, 42vw); max-height: calc(100vh - 150px); overflow: auto;
  box-sizing: border-box; }}
.convoy-panel h4 {{ margin: 0 0 4px; font-size: 14px; font-weight: 600; }}
.convoy-panel-head {{ display: flex; align-items: flex-start; gap: 6px; }}
.convoy-panel-head h4 {{ flex: 1 1 auto; }}
.convoy-panel-toggle {{ flex: 0 0 auto; border: 1px solid #bbb; background: #f4f4f4;
  border-radius: 4px; width: 22px; height: 20px; padding: 0; cursor: pointer;
  font: 12px/18px system-ui, sans-serif; color: #333; }}
.convoy-panel.collapsed .convoy-panel-body {{ display: none; }}
.convoy-panel.collapsed h4 {{ margin: 0; }}
.convoy-summary {{ max-width: min(360px, 46vw); }}
.convoy-summary .cols {{ display: flex; flex-wrap: wrap; gap: 4px 14px; }}
.convoy-summary .cols > div {{ flex: 1 1 auto; }}
.convoy-status-line .st {{ white-space: nowrap; margin-right: 8px; display: inline-block; }}
.convoy-panel table {{ border-collapse: collapse; }}
.convoy-panel td {{ padding: 0 6px 0 0; vertical-align: top; }}
.convoy-panel td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
.convoy-panel ul {{ margin: 2px 0 0; padding-left: 16px; }}
.convoy-panel details summary {{ cursor: pointer; color: #555; }}
.convoy-legend i.swatch {{ display: inline-block; width: 22px; height: 0; margin-right: 6px;
  vertical-align: middle; border-top: 4px solid; }}
.convoy-legend i.swatch.dash {{ border-top-style: dashed; border-top-width: 2px; }}
.convoy-legend i.swatch.track {{ border-top-width: 6px; opacity: .6; }}
.convoy-legend i.swatch.band {{ border-top-width: 8px; opacity: .35; }}
.convoy-legend i.dot {{ display: inline-block; width: 14px; height: 14px; border-radius: 50%;
  margin-right: 6px; vertical-align: middle; color: #fff; font-size: 8px; text-align: center;
  line-height: 14px; }}
.convoy-legend .note {{ color: #555; max-width: 230px; margin-top: 3px; }}
.convoy-popup table {{ border-collapse: collapse; font-size: 12px; }}
.convoy-popup td {{ padding: 1px 8px 1px 0; }}
.convoy-popup td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
.convoy-popup h4 {{ margin: 0 0 4px; font-size: 14px; }}
.convoy-popup a.convoy-map-link {{ display: inline-block; margin-top: 4px; font-weight: 600; }}
.convoy-label {{ font-weight: 600; }}
.convoy-alert-list {{ color: #b00; }}
.convoy-replay {{ display: flex; align-items: center; gap: 4px; background: #fff;
  padding: 3px 6px; font: 12px/1.2 system-ui, {_FONT}; }}
.leaflet-bar.convoy-replay a {{ display: inline-block; width: 26px; height: 26px;
  line-height: 26px; text-align: center; color: #222; text-decoration: none;
  border-radius: 3px; border: none; }}
.convoy-replay a:hover {{ background: #f0f0f0; }}
.convoy-replay input[type=range] {{ width: min(260px, 28vw); }}
.convoy-replay-clock {{ font-variant-numeric: tabular-nums; min-width: 9.5em; }}
.convoy-replaying .convoy-marker-current, .convoy-replaying .convoy-label {{ display: none; }}
@media (max-width: 760px) {{
  .convoy-legend {{ display: none; }}
}}
@media print {{
  * {{ -webkit-print-color-adjust: exact !important; print-color-adjust: exact !important; }}
  .leaflet-control-zoom, .leaflet-control-layers, .leaflet-control-zoom-fullscreen,
  .convoy-replay, .convoy-panel-toggle {{ display: none !important; }}
  .convoy-panel {{ box-shadow: none; border: 1px solid #888; max-height: none;
    overflow: visible; }}
  .convoy-panel.collapsed .convoy-panel-body {{ display: block !important; }}
}}
</style>
"""


class _Chrome(RawMacroElement):
    """The zoom buttons and scale bar in the map's language (added when the map is made)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            L.control.zoom({{ this.zoom|tojson }}).addTo(map);
            L.control.scale({{ this.scale|tojson }}).addTo(map);
            window.addEventListener("beforeprint", function () {
                document.querySelectorAll(".convoy-panel details").forEach(function (d) {
                    d.open = true;
                });
            });
            if (map.attributionControl) {
                var a = document.createElement("a");
                a.href = "https://leafletjs.com";
                a.title = {{ this.leaflet_title|tojson }};
                a.textContent = "Leaflet";
                map.attributionControl.setPrefix(a.outerHTML);
            }
        })();
        {% endmacro %}
        """
    )

    def __init__(self, o: MapOptions) -> None:
        super().__init__()
        self._name = "MapChrome"
        self.zoom = {
            "position": "topleft",
            "zoomInTitle": o.t("ctl.zoom_in"),
            "zoomOutTitle": o.t("ctl.zoom_out"),
        }
        # Chinese readers use kilometres only; English maps keep miles as well.
        self.scale = {"position": "bottomright", "metric": True, "imperial": o.locale == "en"}
        self.leaflet_title = o.t("ctl.leaflet")


class _ControlTitles(RawMacroElement):
    """Titles Leaflet writes in English whatever the options (the layer control's toggle)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var box = {{ this._parent.get_name() }}.getContainer();
            box.querySelectorAll(".leaflet-control-layers-toggle").forEach(function (a) {
                a.title = {{ this.layers|tojson }};
                a.setAttribute("aria-label", {{ this.layers|tojson }});
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, o: MapOptions) -> None:
        super().__init__()
        self._name = "ControlTitles"
        self.layers = o.t("ctl.layers")


def _provinces(points: Sequence[Sequence[float]]) -> list[str]:
    """The 2-digit codes of the provinces holding the WGS-84 points."""
    codes = []
    for point in points:
        region = region_at("province", float(point[0]), float(point[1]))
        if region is not None and str(region["adcode"])[:2] not in codes:
            codes.append(str(region["adcode"])[:2])
    return codes


def base_map(
    o: MapOptions,
    location: Sequence[float],
    zoom: int,
    *,
    basemap: str = "auto",
    counties_at: Sequence[Sequence[float]] = (),
    named: Sequence[Sequence[float]] = (),
) -> folium.Map:
    """An offline map (:func:`maps.offline.new_map`) with ``o``'s tiles, the boundary basemap
    (none under GCJ-02 tiles: it is WGS-84), localised zoom and scale controls, the page
    stylesheet and only the libraries the Convoy Ops elements use.

    The basemap draws the counties of Zhejiang and of the provinces holding the WGS-84
    points ``counties_at`` (the route, the origins), and names the prefectures and counties
    of ``named`` (the destination) from zoom 4. A ``city`` or ``district`` basemap covers the
    provinces of ``counties_at`` (or of ``location``)."""
    if o.shift:
        level = "none"  # the boundaries are WGS-84: they would sit 300-600 m off
    elif basemap == "auto":
        level = "none" if o.tile_url else "province"
    else:
        level = basemap
    m = new_map(
        o.pt(location[0], location[1]),
        zoom,
        tile_url=o.tile_url,
        tile_attribution=o.tile_attribution,
        basemap="none",
        zoom_control=False,
    )
    m.default_js = list(_MAP_JS)
    m.default_css = list(_MAP_CSS)
    m.convoy_locale = o.locale  # type: ignore[attr-defined]  # read by maps.offline
    if level != "none":
        provinces = _provinces(counties_at) or _provinces([location]) or ["33"]
        add_basemap(
            m,
            level,  # type: ignore[arg-type]
            provinces=None if level == "province" else provinces,
            counties=sorted({"33", *provinces}),
            places=named,
            name=o.t(f"basemap.{level}"),
            fill_opacity=0.0 if o.tile_url else 1.0,
        )
    figure = m.get_root()
    if isinstance(figure, Figure):
        figure.header.add_child(RawText(PAGE_CSS), name="convoy_map_css")
    _Chrome(o).add_to(m)
    return m


class _FitAroundPanels(RawMacroElement):
    """Zoom to the points, keeping them clear of the panels as they turned out in this window:
    a tall panel at a side (legend, summary, layer list) pads that side, a wide bar at the
    top or bottom (the replay) pads that edge; at least 40 % of the map stays free."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var bounds = L.latLngBounds({{ this.bounds|tojson }});
            var margin = {{ this.margin }};
            function padding() {
                var box = map.getContainer(), outer = box.getBoundingClientRect();
                var W = box.clientWidth, H = box.clientHeight;
                var p = {left: margin, right: margin, top: margin, bottom: margin};
                box.querySelectorAll(".leaflet-control").forEach(function (el) {
                    var r = el.getBoundingClientRect();
                    if (!r.width || !r.height) { return; }
                    var x0 = r.left - outer.left, x1 = r.right - outer.left;
                    var y0 = r.top - outer.top, y1 = r.bottom - outer.top;
                    if (r.height >= 90 && r.width < W * 0.45) {
                        if (x1 < W / 2) { p.left = Math.max(p.left, x1 + margin); }
                        if (x0 > W / 2) { p.right = Math.max(p.right, W - x0 + margin); }
                    } else if (r.width >= W * 0.3) {
                        if (y0 > H / 2) { p.bottom = Math.max(p.bottom, H - y0 + margin); }
                        if (y1 < H / 2) { p.top = Math.max(p.top, y1 + margin); }
                    }
                });
                ["left,right,W", "top,bottom,H"].forEach(function (axis) {
                    var a = axis.split(","), size = a[2] === "W" ? W : H;
                    var sum = p[a[0]] + p[a[1]];
                    if (sum > size * 0.6) {
                        p[a[0]] *= size * 0.6 / sum;
                        p[a[1]] *= size * 0.6 / sum;
                    }
                });
                return p;
            }
            function fit() {
                var p = padding();
                map.fitBounds(bounds, {paddingTopLeft: [p.left, p.top],
                                       paddingBottomRight: [p.right, p.bottom],
                                       maxZoom: {{ this.max_zoom }}, animate: false});
            }
            fit();
            map.convoyFit = fit;
        })();
        {% endmacro %}
        """
    )

    def __init__(self, points: Sequence[Sequence[float]], margin: int, max_zoom: int) -> None:
        super().__init__()
        self._name = "FitAroundPanels"
        lats = [float(p[0]) for p in points]
        lons = [float(p[1]) for p in points]
        self.bounds = [[min(lats), min(lons)], [max(lats), max(lons)]]
        self.margin = int(margin)
        self.max_zoom = int(max_zoom)


def finish_map(
    m: folium.Map,
    o: MapOptions,
    *,
    bounds: Sequence[Sequence[float]] = (),
    layers_position: str = "topright",
    collapsed: bool = True,
    margin: int = 40,
    max_zoom: int = 14,
) -> None:
    """Add the fullscreen button and the layer control (both with localised titles), zoom to
    ``bounds`` (points as drawn) clear of the panels (``margin`` pixels more, at most
    ``max_zoom``) and spread overlapping badges apart (:class:`maps.declutter.Declutter`);
    call it after every layer and panel is on the map."""
    plugins.Fullscreen(
        position="topleft", title=o.t("ctl.fullscreen"), title_cancel=o.t("ctl.fullscreen_exit")
    ).add_to(m)
    folium.LayerControl(position=layers_position, collapsed=collapsed).add_to(m)
    _ControlTitles(o).add_to(m)
    if bounds:
        _FitAroundPanels(bounds, margin, max_zoom).add_to(m)
    Declutter().add_to(m)


class InfoPanel(RawMacroElement):
    """A Leaflet control holding static HTML (legend, summary), class ``convoy-panel``.

    ``collapsible`` panels take their first ``<h4>`` as a heading with a fold button (the
    rest folds away); ``fold_below`` (``(width, height)`` in CSS pixels) starts them folded
    on a smaller window.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var control = L.control({position: {{ this.position|tojson }}});
            control.onAdd = function () {
                var div = L.DomUtil.create("div", {{ this.css_class|tojson }});
                div.innerHTML = {{ this.html|tojson }};
                {%- if this.collapsible %}
                var head = div.querySelector("h4");
                if (head) {
                    var bar = L.DomUtil.create("div", "convoy-panel-head");
                    var body = L.DomUtil.create("div", "convoy-panel-body");
                    while (head.nextSibling) { body.appendChild(head.nextSibling); }
                    div.insertBefore(bar, head);
                    bar.appendChild(head);
                    div.appendChild(body);
                    var button = L.DomUtil.create("button", "convoy-panel-toggle", bar);
                    button.type = "button";
                    var texts = {{ this.toggle_texts|tojson }};
                    var set = function (folded) {
                        L.DomUtil[folded ? "addClass" : "removeClass"](div, "collapsed");
                        button.textContent = folded ? "▸" : "▾";
                        button.title = folded ? texts[0] : texts[1];
                        button.setAttribute("aria-expanded", folded ? "false" : "true");
                    };
                    var fold = {{ this.fold_below|tojson }};
                    set(window.innerWidth < fold[0] || window.innerHeight < fold[1]);
                    L.DomEvent.on(button, "click", function () {
                        set(!L.DomUtil.hasClass(div, "collapsed"));
                    });
                }
                {%- endif %}
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            control.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        html_text: str,
        *,
        position: str = "bottomleft",
        css_class: str = "",
        collapsible: bool = False,
        fold_below: tuple[int, int] = (0, 0),
        toggle_texts: tuple[str, str] = ("展开", "收起"),
    ) -> None:
        super().__init__()
        self._name = "InfoPanel"
        self.html = html_text
        self.position = position
        self.css_class = f"convoy-panel {css_class}".strip()
        self.collapsible = collapsible
        self.fold_below = list(fold_below)
        self.toggle_texts = list(toggle_texts)

    @classmethod
    def panel(
        cls, o: MapOptions, html_text: str, *, collapsible: bool = False, **kwargs: Any
    ) -> InfoPanel:
        """A panel whose fold button is titled in ``o``'s language."""
        return cls(
            html_text,
            collapsible=collapsible,
            toggle_texts=(o.t("ctl.expand"), o.t("ctl.collapse")),
            **kwargs,
        )
