"""Shared look of the Convoy Ops maps: options from the settings (texts in zh-CN and en come
from :mod:`models.labels`), status colours, marker badges, the legend and the info panels
(Leaflet controls).

Nothing here loads anything from the network: the legend and panels are plain HTML/CSS in the
page, the badges are Font Awesome icons (vendored with folium's default assets).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import folium
from branca.element import Element, Figure, MacroElement
from folium.template import Template

from config import Settings, get_settings
from maps.basemap import add_basemap
from maps.offline import new_map
from models import labels
from models.errors import ConfigurationError
from models.geo.geodesy import LatLon, wgs84_to_gcj02
from models.views.mapdata import CheckpointKind, MapStatus, scrub

__all__ = [
    "CHECKPOINT_ICONS",
    "MODE_ICONS",
    "STATUS_COLOURS",
    "BadgeMarkers",
    "Bindings",
    "InfoPanel",
    "Lines",
    "MapOptions",
    "badge",
    "badge_icon",
    "esc",
    "fit",
    "legend_html",
]

STATUS_COLOURS: dict[MapStatus, str] = {
    MapStatus.PLANNED: "#7f8c8d",
    MapStatus.UNDER_WAY: "#1f78b4",
    MapStatus.ARRIVED: "#6a3d9a",
    MapStatus.DONE: "#2e9e3e",
    MapStatus.DELAYED: "#ff7f00",
    MapStatus.ALERT: "#e31a1c",
}
PLANNED_ROUTE_COLOUR = "#444444"
MODE_ICONS = {"train": "fa-train", "flight": "fa-plane", "bus": "fa-bus"}
MODES = ("train", "flight", "bus")
CHECKPOINT_ICONS: dict[CheckpointKind, str] = {
    CheckpointKind.MUSTER: "fa-users",
    CheckpointKind.SCREENING: "fa-temperature-half",
    CheckpointKind.ARRIVAL: "fa-flag-checkered",
    CheckpointKind.ARRIVAL_SCREENING: "fa-stethoscope",
    CheckpointKind.HANDOFF: "fa-handshake",
}
CHECKPOINT_COLOURS = {True: "#2e9e3e", False: "#95a5a6"}  # done / not yet


def esc(value: object) -> str:
    """HTML-escaped text with ID/phone-shaped numbers masked (defence in depth)."""
    if isinstance(value, int | float):
        return str(value)  # a count: nothing to mask or escape
    return html.escape(scrub(str(value)), quote=True)


@dataclass(frozen=True)
class MapOptions:
    """How maps are drawn: language, tiles and their coordinate system, display time zone.

    With ``tile_crs="gcj02"`` (Amap/Gaode-style tiles from ``tile_url``) every point is shifted
    from WGS-84 to GCJ-02 for display only and the WGS-84 boundary basemap is left out.
    """

    locale: Literal["zh-CN", "en"] = "zh-CN"
    tile_url: str = ""
    tile_crs: Literal["wgs84", "gcj02"] = "wgs84"
    tile_attribution: str = ""
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if not labels.is_locale(self.locale):
            raise ConfigurationError(
                f"The map language {self.locale!r} is not supported; use zh-CN or en."
            )
        if self.tile_crs not in ("wgs84", "gcj02"):
            raise ConfigurationError(
                f"The tile coordinate system {self.tile_crs!r} is unknown; use wgs84 or gcj02."
            )
        if self.tile_crs == "gcj02" and not self.tile_url:
            raise ConfigurationError(
                "The tile coordinate system is gcj02 but no tile URL is set; GCJ-02 describes "
                "the tiles of an own tile server, so set CONVOY_TILE_URL or set "
                "CONVOY_TILE_CRS back to wgs84."
            )

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> MapOptions:
        s = settings or get_settings()
        return cls(
            locale=s.locale,
            tile_url=s.tile_url,
            tile_crs=s.tile_crs,
            tile_attribution=s.tile_attribution,
            timezone=s.timezone,
        )

    @property
    def shift(self) -> bool:
        """Whether points are shifted to GCJ-02 for display."""
        return self.tile_crs == "gcj02"

    def t(self, key: str, **params: Any) -> str:
        """The map text ``key`` in this map's language (:mod:`models.labels`, domain maps)."""
        return labels.label("maps", key, self.locale, **params)

    @property
    def colon(self) -> str:
        return "：" if self.locale == "zh-CN" else ": "

    def paren(self, text: object) -> str:
        """``（text）`` in Chinese, `` (text)`` in English."""
        return f"（{text}）" if self.locale == "zh-CN" else f" ({text})"

    def pt(self, lat: float, lon: float) -> LatLon:
        """A stored WGS-84 point as drawn on this map."""
        return wgs84_to_gcj02(lat, lon) if self.shift else (lat, lon)

    def pts(self, points: Iterable[Sequence[float]]) -> list[LatLon]:
        return [self.pt(p[0], p[1]) for p in points]

    def local(self, at: datetime | None, fmt: str = "%m-%d %H:%M") -> str:
        if at is None:
            return "—"
        return at.astimezone(ZoneInfo(self.timezone)).strftime(fmt)

    def new_map(self, location: Sequence[float], zoom: int, *, basemap: str = "auto") -> folium.Map:
        """An offline map (:func:`maps.offline.new_map`) with these tiles; no WGS-84 basemap
        under GCJ-02 tiles."""
        if self.shift:
            level = "none"  # the boundaries are WGS-84: they would sit 300-600 m off
        elif basemap == "auto":
            level = "none" if self.tile_url else "province"
        else:
            level = basemap
        m = new_map(
            self.pt(location[0], location[1]),
            zoom,
            tile_url=self.tile_url,
            tile_attribution=self.tile_attribution,
            basemap="none",
            control_scale=True,
        )
        if level != "none":
            add_basemap(
                m,
                level,  # type: ignore[arg-type]
                name=self.t(f"basemap.{level}"),
                fill_opacity=0.0 if self.tile_url else 1.0,
            )
        _add_css(m)
        return m


# --------------------------------------------------------------------------- elements


class _Raw(Element):
    """Finished text in the page: rendered as is, not compiled as a Jinja template."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


class RawMacroElement(MacroElement):
    """A ``MacroElement`` whose rendered header/html/script is placed in the page as finished
    text. (branca wraps each rendered part in ``Element(text)``, which compiles the text as a
    Jinja template again; for elements carrying hundreds of markers' data that was slow.)"""

    def render(self, **kwargs: Any) -> str:
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise ConfigurationError("The map element is not part of a page (folium Figure).")
        module = self._template.module
        for part, target in (
            ("header", figure.header),
            ("html", figure.html),
            ("script", figure.script),
        ):
            macro = getattr(module, part, None)
            if macro is not None:
                target.add_child(_Raw(macro(self, kwargs)), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)
        return ""


# --------------------------------------------------------------------------- badges


def badge(
    icon: str,
    colour: str,
    *,
    kind: str,
    size: int = 26,
    offset: tuple[int, int] = (0, 0),
    text: str = "",
    ring: str = "#ffffff",
) -> dict[str, Any]:
    """A round badge with a Font Awesome icon (or short text) as Leaflet ``divIcon`` options;
    its CSS class is ``convoy-marker convoy-marker-{kind}``.

    ``offset`` moves the badge by that many pixels (x right, y down) from its point, so badges
    of one place (muster and screening at the origin) sit side by side.
    """
    inner = f'<i class="fa-solid {icon}"></i>' if icon else ""
    if text:
        inner += f'<span class="convoy-badge-text">{esc(text)}</span>'
    width = size if not text or icon else max(size, 10 + 8 * len(text))
    style = (
        f"background:{colour};border-color:{ring};width:{width}px;height:{size}px;"
        f"line-height:{size - 4}px;font-size:{max(10, size // 2)}px"
    )
    return {
        "html": f'<div class="convoy-badge" style="{style}">{inner}</div>',
        "iconSize": [width, size],
        "iconAnchor": [width // 2 - offset[0], size // 2 - offset[1]],
        "className": f"convoy-marker convoy-marker-{kind}",
    }


def badge_icon(icon: str, colour: str, *, kind: str, **kwargs: Any) -> folium.DivIcon:
    """:func:`badge` as a ``folium.DivIcon`` (for single ``folium.Marker`` objects)."""
    spec = badge(icon, colour, kind=kind, **kwargs)
    return folium.DivIcon(
        html=spec["html"],
        icon_size=tuple(spec["iconSize"]),
        icon_anchor=tuple(spec["iconAnchor"]),
        class_name=spec["className"],
    )


class _DataLayer(RawMacroElement):
    """Many features drawn by one script from data: popup and tooltip texts are stored once
    and referred to by index (``items`` rows hold the indices)."""

    def __init__(self, max_width: int = 320) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.items: list[list[Any]] = []
        self.max_width = int(max_width)
        self._text_index: dict[str, int] = {}

    def _text(self, text: str | None) -> int | None:
        if text is None:
            return None
        if text not in self._text_index:
            self._text_index[text] = len(self.texts)
            self.texts.append(text)
        return self._text_index[text]


class BadgeMarkers(_DataLayer):
    """Many badge markers drawn by one script into the parent layer (map, FeatureGroup or
    MarkerCluster), with their popups and tooltips.

    A ``folium.Marker`` with a ``DivIcon``, popup and tooltip is five elements, each rendered
    through its own Jinja template; for the hundreds of markers of an overview that was most of
    the build time. Here the markers are data (icons and texts stored once) and the browser
    builds the same Leaflet markers.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var texts = {{ this.texts|tojson }};
            var icons = {{ this.icons|tojson }}.map(function (o) { return L.divIcon(o); });
            var items = {{ this.items|tojson }};
            var parent = {{ this._parent.get_name() }};
            var markers = items.map(function (it) {
                var m = L.marker([it[0], it[1]], {icon: icons[it[2]], zIndexOffset: it[6]});
                if (it[3] !== null) {
                    m.bindPopup(texts[it[3]], {maxWidth: {{ this.max_width }}});
                }
                if (it[4] !== null) { m.bindTooltip(texts[it[4]], it[5]); }
                return m;
            });
            if (parent.addLayers) { parent.addLayers(markers); }
            else { markers.forEach(function (m) { parent.addLayer(m); }); }
        })();
        {% endmacro %}
        """
    )

    def __init__(self, max_width: int = 320) -> None:
        super().__init__(max_width)
        self._name = "BadgeMarkers"
        self.icons: list[dict[str, Any]] = []
        self._icon_index: dict[str, int] = {}

    def add(
        self,
        point: Sequence[float],
        icon: dict[str, Any],
        *,
        popup: str | None = None,
        tooltip: str | None = None,
        z_index_offset: int = 0,
        **tooltip_options: Any,
    ) -> None:
        """One marker at ``point`` (as drawn) with a :func:`badge` icon; popup and tooltip are
        HTML, already escaped."""
        key = repr(sorted(icon.items()))
        if key not in self._icon_index:
            self._icon_index[key] = len(self.icons)
            self.icons.append(icon)
        wrapped = f'<div class="convoy-popup">{popup}</div>' if popup is not None else None
        opts = {"sticky": True, **tooltip_options}
        self.items.append(
            [
                round(float(point[0]), 6),
                round(float(point[1]), 6),
                self._icon_index[key],
                self._text(wrapped),
                self._text(tooltip),
                opts,
                int(z_index_offset),
            ]
        )

    def __len__(self) -> int:
        return len(self.items)


class Lines(_DataLayer):
    """Many polylines drawn by one script into the parent layer, with popups and tooltips
    (the line counterpart of :class:`BadgeMarkers`)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var texts = {{ this.texts|tojson }};
            var items = {{ this.items|tojson }};
            var parent = {{ this._parent.get_name() }};
            items.forEach(function (it) {
                var line = L.polyline(it[0], it[1]);
                if (it[2] !== null) {
                    line.bindPopup(texts[it[2]], {maxWidth: {{ this.max_width }}});
                }
                if (it[3] !== null) { line.bindTooltip(texts[it[3]], {sticky: true}); }
                parent.addLayer(line);
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, max_width: int = 320) -> None:
        super().__init__(max_width)
        self._name = "Lines"

    def add(
        self,
        points: Sequence[Sequence[float]],
        *,
        popup: str | None = None,
        tooltip: str | None = None,
        **path_options: Any,
    ) -> None:
        """One polyline through ``points`` (as drawn); ``path_options`` are Leaflet's
        (``color``, ``weight``, ``opacity``, ``dashArray``, ``className``)."""
        wrapped = f'<div class="convoy-popup">{popup}</div>' if popup is not None else None
        coords = [[round(float(p[0]), 6), round(float(p[1]), 6)] for p in points]
        self.items.append([coords, path_options, self._text(wrapped), self._text(tooltip)])

    def __len__(self) -> int:
        return len(self.items)


# --------------------------------------------------------------------------- legend and panels

_CSS = """
<style>
.convoy-marker { background: none; border: none; }
.convoy-badge { box-sizing: border-box; border: 2px solid #fff; border-radius: 50%;
  color: #fff; text-align: center; box-shadow: 0 1px 4px rgba(0,0,0,.45);
  white-space: nowrap; font-family: system-ui, "Microsoft YaHei", "WenQuanYi Micro Hei",
  sans-serif; font-weight: 600; }
.convoy-badge-text { padding: 0 4px; }
.convoy-marker-count .convoy-badge { border-radius: 11px; }
.convoy-panel { background: rgba(255,255,255,.94); padding: 8px 10px; border-radius: 6px;
  box-shadow: 0 1px 5px rgba(0,0,0,.35); font: 12px/1.45 system-ui, "Microsoft YaHei",
  "WenQuanYi Micro Hei", sans-serif; color: #222; max-width: 320px; }
.convoy-panel h4 { margin: 0 0 4px; font-size: 14px; }
.convoy-summary { max-width: 440px; }
.convoy-summary .cols { display: flex; gap: 14px; }
.convoy-summary .cols > div { flex: 1 1 auto; }
.convoy-panel table { border-collapse: collapse; }
.convoy-panel td { padding: 0 6px 0 0; vertical-align: top; }
.convoy-panel td.n { text-align: right; font-variant-numeric: tabular-nums; }
.convoy-panel ul { margin: 2px 0 0; padding-left: 16px; }
.convoy-legend i.swatch { display: inline-block; width: 22px; height: 0; margin-right: 6px;
  vertical-align: middle; border-top: 4px solid; }
.convoy-legend i.swatch.dash { border-top-style: dashed; border-top-width: 3px; }
.convoy-legend i.dot { display: inline-block; width: 14px; height: 14px; border-radius: 50%;
  margin-right: 6px; vertical-align: middle; color: #fff; font-size: 8px; text-align: center;
  line-height: 14px; }
.convoy-popup table { border-collapse: collapse; font-size: 12px; }
.convoy-popup td { padding: 1px 8px 1px 0; }
.convoy-popup td.n { text-align: right; font-variant-numeric: tabular-nums; }
.convoy-popup h4 { margin: 0 0 4px; font-size: 14px; }
.convoy-label { font-weight: 600; }
.convoy-alert-list { color: #b00; }
</style>
"""


def _add_css(m: folium.Map) -> None:
    figure = m.get_root()
    if isinstance(figure, Figure):
        figure.header.add_child(Element(_CSS), name="convoy_map_css")


class InfoPanel(RawMacroElement):
    """A Leaflet control holding static HTML (legend, summary), class ``convoy-panel``."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var control = L.control({position: {{ this.position|tojson }}});
            control.onAdd = function () {
                var div = L.DomUtil.create("div", {{ this.css_class|tojson }});
                div.innerHTML = {{ this.html|tojson }};
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
        self, html_text: str, *, position: str = "bottomleft", css_class: str = ""
    ) -> None:
        super().__init__()
        self._name = "InfoPanel"
        self.html = html_text
        self.position = position
        self.css_class = f"convoy-panel {css_class}".strip()


def legend_html(
    options: MapOptions,
    *,
    statuses: Iterable[MapStatus] = tuple(MapStatus),
    lines: Sequence[tuple[str, str, bool]] = (),
    symbols: Sequence[tuple[str, str, str]] = (),
) -> str:
    """Legend HTML: status colours, line styles ``(label, colour, dashed)`` and badge symbols
    ``(label, icon, colour)``."""
    rows = [f"<h4>{esc(options.t('legend'))}</h4>"]
    for status in statuses:
        colour = STATUS_COLOURS[status]
        rows.append(
            f'<div><i class="swatch" style="border-color:{colour}"></i>'
            f"{esc(options.t('status.' + status.value))}</div>"
        )
    for label, colour, dashed in lines:
        cls = "swatch dash" if dashed else "swatch"
        rows.append(f'<div><i class="{cls}" style="border-color:{colour}"></i>{esc(label)}</div>')
    for label, icon, colour in symbols:
        rows.append(
            f'<div><i class="dot fa-solid {icon}" style="background:{colour}"></i>'
            f"{esc(label)}</div>"
        )
    note = options.t("scale_note_gcj" if options.shift else "scale_note")
    rows.append(f'<div style="color:#777;margin-top:3px">{esc(note)}</div>')
    return "".join(rows)


def table_html(rows: Sequence[tuple[str, object]], *, title: str = "") -> str:
    """A two-column label/number table (numbers right-aligned)."""
    head = f"<h4>{esc(title)}</h4>" if title else ""
    body = "".join(
        f'<tr><td>{esc(label)}</td><td class="n">{esc(value)}</td></tr>' for label, value in rows
    )
    return f"{head}<table>{body}</table>"


class Bindings(RawMacroElement):
    """Popups and tooltips of many layers, bound in one script after the layers exist.

    folium's ``Popup``/``Tooltip`` elements compile a Jinja template per instance (branca's
    ``Html``); with hundreds of markers that dominated the build time of the overview. Here every
    text is stored once (a convoy's popup is shared by its line and markers) and bound with
    Leaflet's ``bindPopup``/``bindTooltip``. Add this element to the map after all layers.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var texts = {{ this.texts|tojson }};
            {%- for name, p, t, topts in this.items %}
            {{ name }}
            {%- if p is not none %}.bindPopup(texts[{{ p }}], {maxWidth: {{ this.max_width }}})
            {%- endif %}
            {%- if t is not none %}.bindTooltip(texts[{{ t }}], {{ topts|tojson }}){% endif %};
            {%- endfor %}
        })();
        {% endmacro %}
        """
    )

    def __init__(self, max_width: int = 320) -> None:
        super().__init__()
        self._name = "Bindings"
        self.texts: list[str] = []
        self._index: dict[str, int] = {}
        self.items: list[tuple[str, int | None, int | None, dict[str, Any]]] = []
        self.max_width = int(max_width)

    def _text(self, text: str | None) -> int | None:
        if text is None:
            return None
        if text not in self._index:
            self._index[text] = len(self.texts)
            self.texts.append(text)
        return self._index[text]

    def bind(
        self,
        layer: Element,
        *,
        popup: str | None = None,
        tooltip: str | None = None,
        **tooltip_options: Any,
    ) -> None:
        """Bind popup HTML and tooltip HTML (both already escaped) to a layer."""
        wrapped = f'<div class="convoy-popup">{popup}</div>' if popup is not None else None
        opts = {"sticky": True, **tooltip_options}
        if opts.get("permanent"):
            opts.pop("sticky")
        self.items.append((layer.get_name(), self._text(wrapped), self._text(tooltip), opts))


def fit(
    m: folium.Map,
    points: Sequence[Sequence[float]],
    *,
    top_left: tuple[int, int] = (30, 30),
    bottom_right: tuple[int, int] = (30, 30),
) -> None:
    """Zoom the map to show every point, keeping clear of the panels (pixels, in the browser)."""
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    m.fit_bounds(
        [(min(lats), min(lons)), (max(lats), max(lons))],
        padding_top_left=top_left,
        padding_bottom_right=bottom_right,
    )
