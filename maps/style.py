"""Shared look of the Convoy Ops maps: options from the settings (language, tiles, time zone)
with the texts, durations and punctuation of the map's language, status colours and icons,
and HTML escaping.

Texts in zh-CN and en come from :mod:`models.labels` (domain ``maps``); the custom Leaflet
elements (data-driven markers, lines, popup bindings) are :mod:`maps.leaflet`, the page around
a map (controls, panels, stylesheet) :mod:`maps.page`, the legend and table HTML
:mod:`maps.legend`. Nothing here loads anything from the network.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from config import Settings, get_settings
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
]

STATUS_COLOURS: dict[MapStatus, str] = {
    MapStatus.PLANNED: "#7f8c8d",
    MapStatus.UNDER_WAY: "#1f78b4",
    MapStatus.ARRIVED: "#6a3d9a",
    MapStatus.DONE: "#2e9e3e",
    MapStatus.DONE_LATE: "#b15928",
    MapStatus.DELAYED: "#ff7f00",
    MapStatus.ALERT: "#e31a1c",
}
PLANNED_ROUTE_COLOUR = "#1d1d1d"
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
_MINUTES = re.compile(r"(\d+)\s*(?:分钟|min(?:utes?)?\b)")


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

    @property
    def comma(self) -> str:
        return "，" if self.locale == "zh-CN" else ", "

    def duration(self, minutes: float) -> str:
        """A duration for people: ``45 分钟``, ``1 小时 32 分钟``, ``2 天 3 小时``, ``2472 天``
        (``45 min``, ``1 h 32 min`` … in English)."""
        m = round(abs(minutes))
        if m < 60:
            return self.t("dur.min", m=m)
        if m < 48 * 60:
            hours, rest = divmod(m, 60)
            return self.t("dur.h_min", h=hours, m=rest) if rest else self.t("dur.h", h=hours)
        days, rest = divmod(m, 24 * 60)
        hours = rest // 60
        if hours and days < 10:
            return self.t("dur.d_h", d=days, h=hours)
        return self.t("dur.d", d=days)

    def humanise(self, text: str) -> str:
        """Free text (an alert subject) with minute counts of an hour or more humanised:
        ``已 3560615 分钟无位置`` → ``已 2472 天无位置``."""

        def replace(match: re.Match[str]) -> str:
            minutes = int(match.group(1))
            return self.duration(minutes) if minutes >= 60 else match.group(0)

        return _MINUTES.sub(replace, text)

    @property
    def zone_name(self) -> str:
        """The display time zone for people (``北京时间``), else its IANA name."""
        name = self.t(f"zone.{self.timezone}")
        return self.timezone if name == f"zone.{self.timezone}" else name

    def ms(self, at: datetime) -> int:
        """A time as JavaScript milliseconds since the epoch (for replays)."""
        return int(at.timestamp() * 1000)
