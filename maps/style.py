"""Shared look of the Convoy Ops maps: options from the settings, status colours and icons,
the page stylesheet, HTML escaping and zooming to fit.

Texts in zh-CN and en come from :mod:`models.labels` (domain ``maps``); the custom Leaflet
elements (data-driven markers, lines, popups, panels) are :mod:`maps.leaflet`, the legend and
table HTML :mod:`maps.legend`. Nothing here loads anything from the network.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import folium
from branca.element import Element, Figure

from config import Settings, get_settings
from maps.basemap import add_basemap
from maps.offline import new_map
from models import labels
from models.errors import ConfigurationError
from models.geo.datums import LatLon, wgs84_to_gcj02
from models.views.mapdata import CheckpointKind, MapStatus, scrub

__all__ = [
    "CHECKPOINT_COLOURS",
    "CHECKPOINT_ICONS",
    "MODES",
    "MODE_ICONS",
    "PLANNED_ROUTE_COLOUR",
    "STATUS_COLOURS",
    "MapOptions",
    "esc",
    "fit",
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


# --------------------------------------------------------------------------- page stylesheet

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


# --------------------------------------------------------------------------- zoom


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
