"""The route map of a vehicle pass (通行证) for construction trucks: route, site, entrances.

The permit model is not built yet, so :func:`permit_map` takes plain data: the permitted route
as ``(lat, lon)`` points (WGS-84), the site point and the named entrances. It returns an offline
``folium.Map`` (save it with ``maps.offline.save_offline``).

CSS classes for tests: ``convoy-permit-route`` (the route), ``convoy-marker-start``,
``convoy-marker-site``, ``convoy-marker-entrance``.
"""

from __future__ import annotations

from collections.abc import Sequence

import folium

from maps.leaflet import Bindings, badge_icon
from maps.legend import legend_html
from maps.page import InfoPanel, base_map, finish_map
from maps.style import MapOptions, esc
from models.errors import ValidationError
from models.geo.datums import LatLon

__all__ = ["permit_map"]

ROUTE_COLOUR = "#1f4e9c"
SITE_COLOUR = "#d35400"
ENTRANCE_COLOUR = "#27ae60"


def _check(point: Sequence[float], what: str) -> LatLon:
    try:
        lat, lon = float(point[0]), float(point[1])
    except (TypeError, ValueError, IndexError):
        raise ValidationError(
            f"The {what} {point!r} is not a (latitude, longitude) pair."
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationError(
            f"The {what} ({lat}, {lon}) is outside the range of latitudes and longitudes."
        )
    return lat, lon


def permit_map(
    route: Sequence[Sequence[float]],
    site: Sequence[float],
    entrances: Sequence[tuple[str, float, float]] = (),
    *,
    title: str = "",
    site_name: str = "",
    options: MapOptions | None = None,
) -> folium.Map:
    """A permitted truck route: ``route`` (at least two points), the ``site`` and its named
    ``entrances`` as ``(name, lat, lon)``. ``title`` (e.g. the permit number and plate) heads
    the panel."""
    o = options or MapOptions.from_settings()
    if len(route) < 2:
        raise ValidationError("A permit route needs at least two points (start and end).")
    points = [_check(p, "route point") for p in route]
    site_pt = _check(site, "site point")
    gates = [(str(name), *_check((lat, lon), f"entrance {name!r}")) for name, lat, lon in entrances]

    # The basemap for every zoom, with the counties of the site's province.
    m = base_map(o, site_pt, 12, counties_at=[site_pt], named=[site_pt])
    b = Bindings()
    drawn = o.pts(points)
    group = folium.FeatureGroup(name=o.t("permit_route"), control=True).add_to(m)
    line = folium.PolyLine(
        drawn, color=ROUTE_COLOUR, weight=5, opacity=0.85, class_name="convoy-permit-route"
    ).add_to(group)
    b.bind(line, tooltip=esc(o.t("permit_route")))
    start = folium.Marker(
        drawn[0], icon=badge_icon("fa-play", ROUTE_COLOUR, kind="start", size=24)
    ).add_to(group)
    b.bind(start, tooltip=esc(o.t("start")))
    site_label = f"{o.t('site')}{o.colon}{site_name}" if site_name else o.t("site")
    marker = folium.Marker(
        o.pt(*site_pt), icon=badge_icon("fa-helmet-safety", SITE_COLOUR, kind="site", size=30)
    ).add_to(m)
    b.bind(marker, tooltip=esc(site_label), popup=f"<h4>{esc(site_label)}</h4>")
    bounds = [*drawn, o.pt(*site_pt)]
    for i, (name, glat, glon) in enumerate(gates):
        point = o.pt(glat, glon)
        bounds.append(point)
        gate = folium.Marker(
            point, icon=badge_icon("fa-door-open", ENTRANCE_COLOUR, kind="entrance", size=24)
        ).add_to(m)
        side = "right" if i % 2 == 0 else "left"
        b.bind(
            gate,
            tooltip=esc(f"{o.t('entrance')}{o.colon}{name}"),
            permanent=True,
            direction=side,
            offset=[14 if side == "right" else -14, 0],
        )
    b.add_to(m)
    heading = f"<h4>{esc(title)}</h4>" if title else ""
    InfoPanel.panel(
        o,
        heading
        + legend_html(
            o,
            statuses=[],
            lines=[(o.t("permit_route"), ROUTE_COLOUR, False)],
            symbols=[
                (o.t("start"), "fa-play", ROUTE_COLOUR),
                (o.t("site"), "fa-helmet-safety", SITE_COLOUR),
                (o.t("entrance"), "fa-door-open", ENTRANCE_COLOUR),
            ],
        ),
        position="bottomleft",
        css_class="convoy-legend",
        collapsible=True,
        fold_below=(1200, 760),
    ).add_to(m)
    finish_map(m, o, bounds=bounds, layers_position="topright", collapsed=True, max_zoom=17)
    return m
