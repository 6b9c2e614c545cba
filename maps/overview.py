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

import html
from collections import Counter
from typing import Literal
from urllib.parse import quote

import folium
from folium import plugins

from maps.leaflet import BadgeMarkers, Lines, badge
from maps.legend import legend_html, table_html
from maps.page import InfoPanel, base_map, finish_map
from maps.replay import campaign_replay
from maps.route import alert_text, convoy_popup_html, status_classes, timing_text
from maps.style import MODE_ICONS, MODES, STATUS_COLOURS, MapOptions, esc
from models.convoy.lifecycle import STAGES
from models.labels import labels as label_table
from models.views.mapdata import CampaignView, ConvoyView, EnterpriseStop, MapStatus

__all__ = ["overview_map", "summary_html"]

_ENTERPRISE_COLOUR = "#16a085"
_SHOWN_ALERTS = 8
# Enterprise clusters: a teal badge with the handshake and the count (the plugin's default
# green/yellow/orange would read as statuses; orange means "late" here).
_CLUSTER_ICON = """function (cluster) {
    var n = cluster.getChildCount();
    var size = n < 10 ? 30 : (n < 100 ? 34 : 40);
    var width = size + 8 * String(n).length;
    return L.divIcon({
        html: '<div class="convoy-badge convoy-cluster" style="background:#16a085;width:' + width +
            'px;height:' + size + 'px;line-height:' + (size - 4) + 'px;border-radius:' + size +
            'px;font-size:12px"><i class="fa-solid fa-handshake"></i> <span>' + n +
            '</span></div>',
        className: "convoy-marker convoy-marker-cluster marker-cluster",
        iconSize: [width, size]
    });
}"""


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
    status_line = " ".join(
        f'<span class="st"><span style="color:{STATUS_COLOURS[s]}">●</span> '
        f"{esc(o.t('status.' + s.value))} {by_status[s]}</span>"
        for s in MapStatus
        if by_status[s]
    )
    alerts = [(c.code, msg) for c in campaign.convoys for _k, msg in c.alerts]
    if alerts:
        shown = "".join(f"<li>{alert_text(msg, o)}</li>" for _code, msg in alerts[:_SHOWN_ALERTS])
        rest = alerts[_SHOWN_ALERTS:]
        more = ""
        if rest:
            items = "".join(f"<li>{alert_text(msg, o)}</li>" for _code, msg in rest)
            more = (
                f"<details><summary>{esc(o.t('more_alerts', n=len(rest)))}</summary>"
                f"<ul>{items}</ul></details>"
            )
        alert_html = (
            f'<div class="convoy-alert-list"><b>{esc(o.t("open_alerts") + o.colon)}'
            f"{len(alerts)}</b><ul>{shown}</ul>{more}</div>"
        )
    else:
        alert_html = f"<div><b>{esc(o.t('open_alerts') + o.colon)}</b>{esc(o.t('none'))}</div>"
    return (
        f'{head}<div class="convoy-status-line">{status_line}</div>'
        f'<div class="cols"><div>{stages}</div>'
        f"<div>{people}</div></div>{alert_html}"
    )


def _convoy_tooltip(view: ConvoyView, o: MapOptions) -> str:
    labels = label_table("stages", o.locale)
    c = view.counts
    text = (
        f"{view.code} · {o.t('mode.' + view.mode)} · {labels[view.stage]} · "
        f"{c.total}{o.t('count_unit')}"
        + o.paren(f"{o.t('handed_off')} {c.handed_off}{o.comma}{o.t('held')} {c.held}")
    )
    timing = timing_text(view, o)
    return esc(f"{text} · {timing}" if timing else text)


def _add_convoy(
    lines: Lines,
    markers: BadgeMarkers,
    view: ConvoyView,
    o: MapOptions,
    badge_offset: tuple[int, int] = (0, 0),
    link: str | None = None,
) -> list[tuple[float, float]]:
    colour = STATUS_COLOURS[view.status]
    route = o.pts(view.route)
    tip = _convoy_tooltip(view, o)
    info = convoy_popup_html(view, o)
    if link:
        href = html.escape(link.format(code=quote(view.code, safe="")), quote=True)
        text = esc(o.t("map_link", code=view.code))
        info += f'<a class="convoy-map-link" href="{href}">{text}</a>'
    style: dict[str, object] = {
        "color": colour,
        "weight": _line_weight(view.counts.total),
        "opacity": 0.85,
        "className": f"convoy-overview-route convoy-mode-{view.mode} {status_classes(view)}",
    }
    if view.status is MapStatus.PLANNED:
        style["dashArray"] = "6 6"
    lines.add(route, popup=info, tooltip=tip, **style)
    count = badge(
        "",
        colour,
        kind=f"count {status_classes(view)}",
        size=20,
        text=f"{view.code} {view.counts.total}",
        offset=badge_offset,
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


def _late_rules(campaign: CampaignView, o: MapOptions) -> str:
    """The legend's note on lateness with each mode's threshold (专列 30、专车 60 分钟)."""
    limits: dict[str, float] = {}
    for view in campaign.convoys:
        limits.setdefault(view.mode, view.late_after_minutes)
    order = [m for m in MODES if m in limits] + sorted(set(limits) - set(MODES))
    sep = "、" if o.locale == "zh-CN" else ", "
    rules = sep.join(f"{o.t('mode.' + m)} {o.t('minutes', m=round(limits[m]))}" for m in order)
    return o.t("late_rule_modes", rules=rules or "—")


def overview_map(
    campaign: CampaignView,
    *,
    options: MapOptions | None = None,
    basemap: Literal["auto", "province", "city", "none"] = "auto",
    convoy_links: str | None = "{code}.html",
) -> folium.Map:
    """The operations overview of ``campaign`` (see the module docstring). ``basemap``: the
    embedded boundary layer ("auto": provinces unless tiles are configured).
    ``convoy_links``: where each convoy's route map is, relative to the overview (``{code}``
    is the URL-quoted convoy code; the default is the file ``convoy map CODE`` writes into
    the same folder); each convoy popup links to it. ``None``: no links."""
    o = options or MapOptions.from_settings()
    destinations = sorted({c.destination for c in campaign.convoys})
    m = base_map(
        o,
        campaign.destination,
        5,
        basemap=basemap,
        counties_at=destinations + sorted({c.origin for c in campaign.convoys}),
        named=destinations or [campaign.destination],
    )
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
    order = [MapStatus.PLANNED, MapStatus.DONE, MapStatus.DONE_LATE, MapStatus.ARRIVED,
             MapStatus.UNDER_WAY, MapStatus.DELAYED, MapStatus.ALERT]  # fmt: skip
    # Badges of one origin (or of origins close together) are spread apart in the browser.
    for view in sorted(campaign.convoys, key=lambda c: (order.index(c.status), c.code)):
        bounds += _add_convoy(lines[view.mode], markers[view.mode], view, o, link=convoy_links)
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
            z_index_offset=5000,
        )
    places.add_to(m)

    if campaign.enterprises:
        cluster = plugins.MarkerCluster(
            name=f"{o.t('enterprises')}{o.paren(len(campaign.enterprises))}",
            options={"maxClusterRadius": 40, "showCoverageOnHover": False},
            icon_create_function=_CLUSTER_ICON,
        )
        # The plugin's default (green/yellow/orange) cluster stylesheet is not used.
        cluster.default_css = [c for c in cluster.default_css if "Default" not in c[0]]
        cluster.add_to(m)
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

    if campaign.convoys:
        campaign_replay(campaign, o).add_to(m)
    InfoPanel.panel(
        o,
        summary_html(campaign, o),
        position="topright",
        css_class="convoy-summary",
        collapsible=True,
        fold_below=(1100, 720),
    ).add_to(m)
    InfoPanel.panel(
        o,
        legend_html(
            o,
            symbols=[
                *((o.t("mode." + mode), MODE_ICONS[mode], "#555") for mode in MODES),
                (o.t("destination"), "fa-flag", "#c0392b"),
                (o.t("cp.handoff"), "fa-handshake", _ENTERPRISE_COLOUR),
            ],
            notes=[_late_rules(campaign, o)],
        ),
        position="bottomleft",
        css_class="convoy-legend",
        collapsible=True,
        fold_below=(1200, 760),
    ).add_to(m)
    finish_map(m, o, bounds=bounds, layers_position="topleft", collapsed=False, margin=70)
    return m
