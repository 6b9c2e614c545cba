"""The route map of one convoy, for managers: plan, track, checkpoints, counts, alerts.

:func:`convoy_map` takes a :class:`models.views.mapdata.ConvoyView` (plain data: build it with
``models.views.mapdata.convoy_view(session, code)`` or ``ConvoyView.of(convoy, positions, census)``)
and returns a ``folium.Map`` built for offline use. Saving is separate
(``maps.offline.save_offline``). Popups and labels carry counts, places and codes, never
personal data.

What is drawn (CSS classes in brackets, used by the browser tests):

* the planned route origin → waypoints → destination, dashed (``convoy-route-planned``);
* the actual track from the positions, in the status colour (``convoy-route-track``);
* origin, waypoints, destination (``convoy-marker-origin`` / ``-waypoint`` / ``-destination``);
* the current position with the ETA (``convoy-marker-current``);
* checkpoints: muster point and screening at the origin, arrival and the spot check at the
  destination, one handoff point per enterprise (``convoy-marker-checkpoint``);
* one marker listing the open alerts (``convoy-marker-alert``);
* a track playback over time (TimestampedGeoJson, ``convoy-playback``), a legend, an info
  panel, a layer control and a fullscreen button.
"""

from __future__ import annotations

import math

import folium
from folium import plugins

from maps.leaflet import Bindings, InfoPanel, badge_icon
from maps.legend import legend_html, table_html
from maps.style import (
    CHECKPOINT_COLOURS,
    CHECKPOINT_ICONS,
    MODE_ICONS,
    PLANNED_ROUTE_COLOUR,
    STATUS_COLOURS,
    MapOptions,
    esc,
    fit,
)
from models.labels import labels as label_table
from models.views.mapdata import Checkpoint, CheckpointKind, ConvoyView, MapStatus

__all__ = ["convoy_map", "convoy_popup_html", "eta_text"]

# Badges of one place sit side by side: pixel offsets from the point.
_OFFSETS: dict[CheckpointKind, tuple[int, int]] = {
    CheckpointKind.MUSTER: (-24, -24),
    CheckpointKind.SCREENING: (24, -24),
    CheckpointKind.ARRIVAL: (-24, -24),
    CheckpointKind.ARRIVAL_SCREENING: (24, -24),
}
_PLAYBACK_MAX_STEPS = 240


def stage_label(view: ConvoyView, options: MapOptions) -> str:
    labels = label_table("stages", options.locale)
    return labels[view.stage]


def eta_text(view: ConvoyView, options: MapOptions) -> str:
    """'预计到达 02-21 16:30（晚 25 分钟）' or '' when there is no ETA."""
    if view.eta is None:
        return ""
    text = f"{options.t('eta')} {options.local(view.eta)}"
    if view.delay_minutes is not None and view.delay_minutes != 0:
        key = "late" if view.delay_minutes > 0 else "early"
        sep = "，" if options.locale == "zh-CN" else ", "
        text += sep + options.t(key, m=abs(view.delay_minutes))
    return text


def convoy_popup_html(view: ConvoyView, options: MapOptions) -> str:
    """Counts and times of a convoy (no personal data)."""
    c = view.counts
    mode = options.t(f"mode.{view.mode}")
    rows: list[tuple[str, object]] = [
        (options.t("stage"), stage_label(view, options)),
        (options.t("vehicle"), f"{mode} {view.vehicle}".strip()),
        (options.t("total"), c.total),
        (options.t("boarded"), c.boarded),
        (options.t("held"), c.held),
        (options.t("withdrawn"), c.withdrawn),
        (options.t("handed_off"), c.handed_off),
        (options.t("in_custody"), c.in_custody),
        (options.t("planned_departure"), options.local(view.planned_departure)),
        (options.t("actual_departure"), options.local(view.actual_departure)),
        (options.t("planned_arrival"), options.local(view.planned_arrival)),
        (options.t("actual_arrival"), options.local(view.actual_arrival)),
    ]
    if view.current is not None:
        rows.append((options.t("last_fix"), options.local(view.current.at)))
    if view.eta is not None:
        rows.append((options.t("eta"), eta_text(view, options)))
    if view.remaining_km is not None and view.eta is not None:
        rows.append(("", options.t("remaining", km=round(view.remaining_km))))
    if view.escorts:
        rows.append((options.t("escorts"), view.escorts))
    html_text = table_html(rows, title=f"{view.code} · {options.t('status.' + view.status.value)}")
    if view.alerts:
        items = "".join(f"<li>{esc(msg)}</li>" for _kind, msg in view.alerts)
        html_text += (
            f'<div class="convoy-alert-list"><b>{esc(options.t("alerts"))}</b>'
            f"<ul>{items}</ul></div>"
        )
    return html_text


def _checkpoint_popup(cp: Checkpoint, options: MapOptions) -> str:
    rows: list[tuple[str, object]] = []
    if cp.expected is not None:
        rows.append((options.t("expected"), cp.expected))
    if cp.passed is not None:
        key = "handed_off" if cp.kind is CheckpointKind.HANDOFF else "passengers"
        rows.append((options.t(key), cp.passed))
    if cp.held:
        rows.append((options.t("held"), cp.held))
    if cp.withdrawn:
        rows.append((options.t("withdrawn"), cp.withdrawn))
    rows.append(("", options.t("done") if cp.done else options.t("pending")))
    if cp.at is not None:
        rows.append(("", options.local(cp.at)))
    text = table_html(rows, title=f"{options.t('cp.' + cp.kind.value)} · {cp.name}")
    if cp.approximate:
        text += f'<div style="color:#777">{esc(options.t("approximate"))}</div>'
    return text


def _ring_offset(i: int, n: int, radius: int = 34) -> tuple[int, int]:
    angle = 2 * math.pi * i / max(n, 1) + math.pi / 2
    return round(radius * math.cos(angle)), round(radius * math.sin(angle))


def _playback(view: ConvoyView, options: MapOptions, colour: str) -> plugins.TimestampedGeoJson:
    points = view.track
    coords = [[lon, lat] for lat, lon in options.pts((p.lat, p.lon) for p in points)]
    times = [int(p.at.timestamp() * 1000) for p in points]
    span_min = max(1.0, (times[-1] - times[0]) / 60_000)
    step = next(
        (m for m in (1, 5, 10, 15, 30, 60, 120, 360) if span_min / m <= _PLAYBACK_MAX_STEPS), 720
    )
    period = f"PT{step}M" if step < 60 else f"PT{step // 60}H"
    data = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": coords},
                "properties": {
                    "times": times,
                    # the moving point drawn at the current playback time (add_last_point)
                    "icon": "circle",
                    "iconstyle": {
                        "radius": 7,
                        "color": "#ffffff",
                        "weight": 2,
                        "fillColor": colour,
                        "fillOpacity": 1,
                        "className": "convoy-playback-point",
                    },
                    "style": {
                        "color": colour,
                        "weight": 5,
                        "opacity": 0.9,
                        "className": "convoy-playback",
                    },
                },
            }
        ],
    }
    return plugins.TimestampedGeoJson(
        data,
        period=period,
        auto_play=False,
        loop=False,
        add_last_point=True,
        transition_time=200,
        date_options="YYYY-MM-DD HH:mm",
        time_slider_drag_update=True,
    )


def convoy_map(view: ConvoyView, *, options: MapOptions | None = None) -> folium.Map:
    """The route map of one convoy (see the module docstring for what it shows)."""
    o = options or MapOptions.from_settings()
    status = view.status
    colour = STATUS_COLOURS[status]
    route = o.pts(view.route)
    m = o.new_map(route[0], 6)
    b = Bindings()
    info = convoy_popup_html(view, o)

    plan = folium.FeatureGroup(name=o.t("planned_route"), control=True).add_to(m)
    line = folium.PolyLine(
        route,
        color=PLANNED_ROUTE_COLOUR,
        weight=3,
        opacity=0.8,
        dash_array="8 8",
        class_name="convoy-route-planned",
    ).add_to(plan)
    b.bind(
        line, tooltip=esc(f"{o.t('planned_route')} {view.origin_name} → {view.destination_name}")
    )
    marker = folium.Marker(
        route[0], icon=badge_icon("fa-play", "#34495e", kind="origin", size=28)
    ).add_to(plan)
    b.bind(marker, popup=info, tooltip=esc(f"{o.t('origin')}{o.colon}{view.origin_name}"))
    for (name, _lat, _lon), point in zip(view.waypoints, route[1:-1], strict=True):
        marker = folium.Marker(
            point, icon=badge_icon("", "#34495e", kind="waypoint", size=12)
        ).add_to(plan)
        b.bind(marker, tooltip=esc(f"{o.t('waypoint')}{o.colon}{name}"))
    marker = folium.Marker(
        route[-1], icon=badge_icon("fa-flag", "#c0392b", kind="destination", size=28)
    ).add_to(plan)
    b.bind(marker, popup=info, tooltip=esc(f"{o.t('destination')}{o.colon}{view.destination_name}"))

    bounds = list(route)
    if view.track:
        track_pts = o.pts((p.lat, p.lon) for p in view.track)
        bounds += track_pts
        group = folium.FeatureGroup(name=o.t("track"), control=True).add_to(m)
        line = folium.PolyLine(
            track_pts, color=colour, weight=4, opacity=0.85, class_name="convoy-route-track"
        ).add_to(group)
        b.bind(line, tooltip=esc(f"{o.t('track')} · {o.t('status.' + status.value)}"))
        if len(view.track) >= 2:
            _playback(view, o, colour).add_to(m)

    checkpoints = folium.FeatureGroup(name=o.t("checkpoints"), control=True).add_to(m)
    approx = [cp for cp in view.checkpoints if cp.approximate]
    for cp in view.checkpoints:
        offset = _OFFSETS.get(cp.kind, (0, 0))
        if cp.approximate:
            offset = _ring_offset(approx.index(cp), len(approx))
        point = o.pt(cp.lat, cp.lon)
        bounds.append(point)
        label = f"{o.t('cp.' + cp.kind.value)}{o.colon}{cp.name}"
        if cp.kind is CheckpointKind.HANDOFF and cp.expected is not None:
            label += o.paren(f"{cp.passed or 0}/{cp.expected}")
        marker = folium.Marker(
            point,
            icon=badge_icon(
                CHECKPOINT_ICONS[cp.kind],
                CHECKPOINT_COLOURS[cp.done],
                kind=f"checkpoint convoy-cp-{cp.kind.value}",
                size=24,
                offset=offset,
            ),
        ).add_to(checkpoints)
        b.bind(marker, popup=_checkpoint_popup(cp, o), tooltip=esc(label))

    where = route[0] if view.current is None else o.pt(view.current.lat, view.current.lon)
    if view.current is not None:
        fix = f"{o.t('last_fix')} {o.local(view.current.at)}"
        text = f"{view.code} · {eta_text(view, o) or fix}"
        lons = [p[1] for p in bounds]
        direction = "left" if where[1] > (min(lons) + max(lons)) / 2 else "right"
        shift = -20 if direction == "left" else 20
        marker = folium.Marker(
            where,
            icon=badge_icon(
                MODE_ICONS.get(view.mode, "fa-location-dot"), colour, kind="current", size=32
            ),
            z_index_offset=1000,
        ).add_to(m)
        b.bind(
            marker,
            popup=info,
            tooltip=esc(text),
            permanent=True,
            direction=direction,
            offset=[shift, 0],
            className="convoy-label",
        )
    if view.alerts:
        alerts = folium.FeatureGroup(name=o.t("alerts"), control=True).add_to(m)
        marker = folium.Marker(
            where,
            icon=badge_icon(
                "fa-triangle-exclamation",
                STATUS_COLOURS[MapStatus.ALERT],
                kind="alert",
                size=26,
                offset=(0, -34),
            ),
            z_index_offset=2000,
        ).add_to(alerts)
        items = "".join(f"<li>{esc(msg)}</li>" for _k, msg in view.alerts)
        b.bind(
            marker,
            popup=f"<b>{esc(o.t('alerts'))}</b><ul>{items}</ul>",
            tooltip=esc(f"{o.t('alerts')}{o.colon}{len(view.alerts)}"),
        )
    b.add_to(m)

    InfoPanel(_panel_html(view, o), position="topright", css_class="convoy-info").add_to(m)
    InfoPanel(
        legend_html(
            o,
            statuses=[],
            lines=[
                (o.t("planned_route"), PLANNED_ROUTE_COLOUR, True),
                (o.t("track") + o.paren(o.t("status." + status.value)), colour, False),
            ],
            symbols=[
                (o.t("origin"), "fa-play", "#34495e"),
                (o.t("destination"), "fa-flag", "#c0392b"),
                *(
                    (o.t("cp." + k.value), CHECKPOINT_ICONS[k], CHECKPOINT_COLOURS[True])
                    for k in CheckpointKind
                ),
                (
                    o.t("checkpoints") + o.paren(o.t("pending")),
                    "fa-circle",
                    CHECKPOINT_COLOURS[False],
                ),
                (o.t("alerts"), "fa-triangle-exclamation", STATUS_COLOURS[MapStatus.ALERT]),
            ],
        ),
        position="bottomleft",
        css_class="convoy-legend",
    ).add_to(m)
    plugins.Fullscreen(position="topleft").add_to(m)
    folium.LayerControl(position="topright", collapsed=True).add_to(m)
    fit(m, bounds, top_left=(50, 40), bottom_right=(290, 40))
    return m


def _panel_html(view: ConvoyView, o: MapOptions) -> str:
    c = view.counts
    title = f"{view.code} · {o.t('mode.' + view.mode)} {view.vehicle}".strip()
    colour = STATUS_COLOURS[view.status]
    head = (
        f"<h4>{esc(title)}</h4>"
        f'<div><span style="color:{colour};font-weight:600">● '
        f"{esc(o.t('status.' + view.status.value))}</span> · {esc(stage_label(view, o))}</div>"
        f"<div>{esc(view.origin_name)} → {esc(view.destination_name)}</div>"
    )
    eta = eta_text(view, o)
    if eta:
        head += f"<div><b>{esc(eta)}</b></div>"
    counts = table_html(
        [
            (o.t("total"), c.total),
            (o.t("boarded"), c.boarded),
            (o.t("held"), c.held),
            (o.t("handed_off"), c.handed_off),
            (o.t("in_custody"), c.in_custody),
        ]
    )
    alerts = ""
    if view.alerts:
        items = "".join(f"<li>{esc(msg)}</li>" for _k, msg in view.alerts)
        alerts = (
            f'<div class="convoy-alert-list"><b>{esc(o.t("alerts"))} ({len(view.alerts)})'
            f"</b><ul>{items}</ul></div>"
        )
    return head + counts + alerts
