"""The operations overview of a campaign: every convoy on one offline map.

:func:`overview_map` takes a :class:`models.views.mapdata.CampaignView` (``campaign_view(session,
name)``) and returns a ``folium.Map``:

* one line per convoy from its origin through its waypoints to the destination, all
  converging on the destination city, coloured by status (``convoy-overview-route``);
* one layer per mode (train, flight, bus) with a layer control; each convoy's line, its count
  badge at the origin (``convoy-marker-count``) and its current position
  (``convoy-marker-current``) belong to its mode's layer;
* the destination points (``convoy-marker-destination``);
* the receiving enterprises (handoff points) clustered (MarkerCluster,
  ``convoy-marker-enterprise``);
* a summary panel (convoys by stage, passengers in custody, open alerts) and a legend.

Popups and tooltips hold counts, places and codes only, never personal data.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

import folium
from folium import plugins

from maps.leaflet import BadgeMarkers, InfoPanel, Lines, badge
from maps.legend import legend_html, table_html
from maps.route import convoy_popup_html, eta_text
from maps.style import MODE_ICONS, MODES, STATUS_COLOURS, MapOptions, esc, fit
from models.convoy.lifecycle import STAGES
from models.labels import labels as label_table
from models.views.mapdata import CampaignView, ConvoyView, EnterpriseStop, MapStatus

__all__ = ["overview_map", "summary_html"]

_ENTERPRISE_COLOUR = "#16a085"


def _line_weight(passengers: int) -> float:
    """Thicker lines for fuller convoys: 3 px for a bus, about 7 px for a 1,000-seat train."""
    return round(2.5 + min(passengers, 1200) ** 0.5 / 7, 1)


def summary_html(campaign: CampaignView, options: MapOptions) -> str:
    """The summary panel: convoys by stage, passengers, open alerts."""
    o = options
    labels = label_table("stages", o.locale)
    by_stage = Counter(c.stage for c in campaign.convoys)
    by_status = Counter(c.status for c in campaign.convoys)
    t = campaign.totals
    title = campaign.name + (o.paren(campaign.city) if campaign.city else "")
    head = f"<h4>{esc(title)}</h4>"
    stages = table_html(
        [(labels[s], by_stage[s]) for s in STAGES if by_stage[s]]
        + [(o.t("convoys"), len(campaign.convoys))],
        title=o.t("convoys_by_stage"),
    )
    people = table_html(
        [
            (o.t("total"), t.total),
            (o.t("in_custody"), t.in_custody),
            (o.t("handed_off"), t.handed_off),
            (o.t("held"), t.held),
            (o.t("withdrawn"), t.withdrawn),
        ],
        title=o.t("passengers"),
    )
    status_line = " · ".join(
        f'<span style="color:{STATUS_COLOURS[s]}">●</span> {esc(o.t("status." + s.value))} '
        f"{by_status[s]}"
        for s in MapStatus
        if by_status[s]
    )
    alerts = [(c.code, msg) for c in campaign.convoys for _k, msg in c.alerts]
    if alerts:
        shown = "".join(f"<li>{esc(msg)}</li>" for _code, msg in alerts[:8])
        more = f"<li>… +{len(alerts) - 8}</li>" if len(alerts) > 8 else ""
        alert_html = (
            f'<div class="convoy-alert-list"><b>{esc(o.t("open_alerts"))}: {len(alerts)}</b>'
            f"<ul>{shown}{more}</ul></div>"
        )
    else:
        alert_html = f"<div><b>{esc(o.t('open_alerts'))}</b>: {esc(o.t('none'))}</div>"
    return (
        f'{head}<div>{status_line}</div><div class="cols"><div>{stages}</div>'
        f"<div>{people}</div></div>{alert_html}"
    )


def _convoy_tooltip(view: ConvoyView, o: MapOptions) -> str:
    labels = label_table("stages", o.locale)
    c = view.counts
    text = (
        f"{view.code} · {o.t('mode.' + view.mode)} · {labels[view.stage]} · "
        f"{c.total}{o.t('count_unit')} ({o.t('handed_off')} {c.handed_off}, "
        f"{o.t('held')} {c.held})"
    )
    eta = eta_text(view, o)
    return esc(f"{text} · {eta}" if eta else text)


def _add_convoy(
    lines: Lines,
    markers: BadgeMarkers,
    view: ConvoyView,
    o: MapOptions,
    badge_offset: tuple[int, int] = (0, 0),
) -> list[tuple[float, float]]:
    colour = STATUS_COLOURS[view.status]
    route = o.pts(view.route)
    tip = _convoy_tooltip(view, o)
    info = convoy_popup_html(view, o)
    style: dict[str, object] = {
        "color": colour,
        "weight": _line_weight(view.counts.total),
        "opacity": 0.85,
        "className": f"convoy-overview-route convoy-mode-{view.mode}",
    }
    if view.status is MapStatus.PLANNED:
        style["dashArray"] = "6 6"
    lines.add(route, popup=info, tooltip=tip, **style)
    count = badge(
        "", colour, kind="count", size=22, text=str(view.counts.total), offset=badge_offset
    )
    markers.add(route[0], count, popup=info, tooltip=tip, z_index_offset=100)
    points = list(route)
    if view.current is not None:
        where = o.pt(view.current.lat, view.current.lon)
        points.append(where)
        icon = badge(MODE_ICONS.get(view.mode, "fa-location-dot"), colour, kind="current", size=26)
        markers.add(where, icon, popup=info, tooltip=tip, z_index_offset=1000)
    return points


def _enterprise_popup(stop: EnterpriseStop, o: MapOptions) -> str:
    text = table_html(
        [
            (o.t("expected"), stop.expected),
            (o.t("handed_off"), stop.handed_off),
            (o.t("convoys"), stop.convoys),
        ],
        title=f"{o.t('cp.handoff')} · {stop.name}",
    )
    if stop.district:
        text = f"<div>{esc(stop.district)}</div>" + text
    if stop.approximate:
        text += f'<div style="color:#777">{esc(o.t("approximate"))}</div>'
    return text


def overview_map(
    campaign: CampaignView,
    *,
    options: MapOptions | None = None,
    basemap: Literal["auto", "province", "city", "none"] = "auto",
) -> folium.Map:
    """The operations overview of ``campaign`` (see the module docstring). ``basemap``: the
    embedded boundary layer ("auto": provinces unless tiles are configured)."""
    o = options or MapOptions.from_settings()
    m = o.new_map(campaign.destination, 5, basemap=basemap)
    bounds: list[tuple[float, float]] = []
    counts = Counter(c.mode for c in campaign.convoys)
    groups: dict[str, folium.FeatureGroup] = {}
    for mode in (*MODES, *sorted(set(counts) - set(MODES))):
        name = f"{o.t('mode.' + mode)}{o.paren(counts[mode])}"
        groups[mode] = folium.FeatureGroup(name=name, control=True, show=True)
        groups[mode].add_to(m)
    lines = {mode: Lines() for mode in groups}
    markers = {mode: BadgeMarkers() for mode in groups}
    # Planned convoys first, so that moving and late ones are drawn on top.
    order = [MapStatus.PLANNED, MapStatus.DONE, MapStatus.ARRIVED, MapStatus.UNDER_WAY,
             MapStatus.DELAYED, MapStatus.ALERT]  # fmt: skip
    # Count badges of convoys from one origin sit side by side.
    same_origin: dict[tuple[float, float], list[str]] = {}
    for view in sorted(campaign.convoys, key=lambda c: c.code):
        same_origin.setdefault(view.origin, []).append(view.code)
    for view in sorted(campaign.convoys, key=lambda c: (order.index(c.status), c.code)):
        codes = same_origin[view.origin]
        dx = round((codes.index(view.code) - (len(codes) - 1) / 2) * 44)
        bounds += _add_convoy(lines[view.mode], markers[view.mode], view, o, (dx, 0))
    for mode, group in groups.items():
        lines[mode].add_to(group)
        markers[mode].add_to(group)

    places = BadgeMarkers()
    for dest in sorted({c.destination for c in campaign.convoys}):
        names = sorted({c.destination_name for c in campaign.convoys if c.destination == dest})
        arriving = sum(c.counts.total for c in campaign.convoys if c.destination == dest)
        point = o.pt(*dest)
        bounds.append(point)
        tip = f"{o.t('destination')}{o.colon}{'、'.join(names)} · {arriving}{o.t('count_unit')}"
        places.add(
            point,
            badge("fa-flag", "#c0392b", kind="destination", size=26),
            tooltip=esc(tip),
            z_index_offset=500,
        )
    places.add_to(m)

    if campaign.enterprises:
        cluster = plugins.MarkerCluster(
            name=f"{o.t('enterprises')}{o.paren(len(campaign.enterprises))}",
            options={"maxClusterRadius": 40, "showCoverageOnHover": False},
        ).add_to(m)
        stops = BadgeMarkers()
        for stop in campaign.enterprises:
            point = o.pt(stop.lat, stop.lon)
            bounds.append(point)
            colour = _ENTERPRISE_COLOUR if stop.handed_off >= stop.expected else "#95a5a6"
            stops.add(
                point,
                badge("fa-handshake", colour, kind="enterprise", size=24),
                popup=_enterprise_popup(stop, o),
                tooltip=esc(f"{stop.name} · {stop.handed_off}/{stop.expected}"),
            )
        stops.add_to(cluster)

    InfoPanel(summary_html(campaign, o), position="topright", css_class="convoy-summary").add_to(m)
    InfoPanel(
        legend_html(
            o,
            symbols=[
                *((o.t("mode." + mode), MODE_ICONS[mode], "#555") for mode in MODES),
                (o.t("destination"), "fa-flag", "#c0392b"),
                (o.t("cp.handoff"), "fa-handshake", _ENTERPRISE_COLOUR),
            ],
        ),
        position="bottomleft",
        css_class="convoy-legend",
    ).add_to(m)
    plugins.Fullscreen(position="topleft").add_to(m)
    folium.LayerControl(position="topleft", collapsed=False).add_to(m)
    if bounds:
        fit(m, bounds, top_left=(200, 30), bottom_right=(380, 30))
    return m
