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

from maps.leaflet import Bindings, Lines, badge_icon
from maps.legend import legend_html, table_html
from maps.monitor import (
    CORRIDOR_COLOUR,
    EVENT_ICONS,
    RESOLVED_COLOUR,
    STOP_COLOUR,
    Corridor,
    event_marks,
    monitored_route,
)
from maps.page import InfoPanel, base_map, finish_map
from maps.replay import track_replay
from maps.style import (
    CHECKPOINT_COLOURS,
    CHECKPOINT_ICONS,
    MODE_ICONS,
    PLANNED_ROUTE_COLOUR,
    STATUS_COLOURS,
    MapOptions,
    esc,
)
from models.convoy.lifecycle import Stage
from models.labels import labels as label_table
from models.views.mapdata import Checkpoint, CheckpointKind, ConvoyView, MapStatus

__all__ = [
    "arrival_text",
    "convoy_map",
    "convoy_popup_html",
    "eta_text",
    "status_classes",
    "timing_text",
]

# Badges of one place sit side by side: pixel offsets from the point.
_OFFSETS: dict[CheckpointKind, tuple[int, int]] = {
    CheckpointKind.MUSTER: (-28, -26),
    CheckpointKind.SCREENING: (28, -26),
    CheckpointKind.ARRIVAL: (-28, -26),
    CheckpointKind.ARRIVAL_SCREENING: (28, -26),
}
_PLAN_PANE = "convoy-plan"
TRACK_PANE = "convoy-track"
_ORIGIN_STAGES = frozenset({Stage.PLANNED, Stage.MUSTERING, Stage.VERIFIED, Stage.SCREENED})
_EN_ROUTE_STAGES = frozenset({Stage.DEPARTED, Stage.IN_TRANSIT})
_AT_DESTINATION_STAGES = frozenset({Stage.ARRIVED, Stage.ARRIVAL_SCREENED})


def stage_label(view: ConvoyView, options: MapOptions) -> str:
    labels = label_table("stages", options.locale)
    return labels[view.stage]


def _km(value: float) -> str:
    return f"{value:g}"


def custody_label(view: ConvoyView, options: MapOptions) -> str:
    """What "in custody" means at the convoy's stage: at the origin, en route, awaiting the
    handoff at the destination (or plainly "in custody" once it is over)."""
    if view.stage in _ORIGIN_STAGES:
        return options.t("in_custody.origin")
    if view.stage in _EN_ROUTE_STAGES:
        return options.t("in_custody.en_route")
    if view.stage in _AT_DESTINATION_STAGES:
        return options.t("in_custody.destination")
    return options.t("in_custody")


def alert_text(message: str, options: MapOptions) -> str:
    """An alert subject as shown: escaped, minute counts of an hour or more humanised."""
    return esc(options.humanise(message))


def _delay_suffix(view: ConvoyView, options: MapOptions) -> str:
    """'，晚 25 分钟' (or ', 25 min late') after a time, '' when on time or unknown."""
    if view.delay_minutes is None or view.delay_minutes == 0:
        return ""
    key = "late_by" if view.delay_minutes > 0 else "early_by"
    return options.comma + options.t(key, d=options.duration(view.delay_minutes))


def eta_text(view: ConvoyView, options: MapOptions) -> str:
    """'预计到达 02-21 16:30，晚 25 分钟' or '' when there is no ETA."""
    if view.eta is None:
        return ""
    return f"{options.t('eta')} {options.local(view.eta)}{_delay_suffix(view, options)}"


def arrival_text(view: ConvoyView, options: MapOptions) -> str:
    """'实际到达 02-21 17:31，晚 92 分钟' or '' before the arrival."""
    if view.actual_arrival is None:
        return ""
    at = options.local(view.actual_arrival)
    return options.t("arrived_at", at=at) + _delay_suffix(view, options)


def timing_text(view: ConvoyView, options: MapOptions) -> str:
    """The arrival (with the delay) once arrived, else the ETA (with the delay), else ''."""
    return arrival_text(view, options) or eta_text(view, options)


def status_classes(view: ConvoyView) -> str:
    """CSS classes of a convoy's lines and badges: ``convoy-status-<status>`` and, for a late
    convoy (delayed now or arrived late), ``convoy-late``."""
    status = view.status
    return f"convoy-status-{status.value}" + (" convoy-late" if status.late else "")


def convoy_popup_html(view: ConvoyView, options: MapOptions) -> str:
    """Counts and times of a convoy (no personal data)."""
    c = view.counts
    rows: list[tuple[str, object]] = [
        (options.t("stage"), stage_label(view, options)),
        (options.t(f"vehicle.{view.mode}"), view.vehicle or "—"),
        (options.t("total"), c.total),
        (options.t("boarded"), c.boarded),
        (options.t("held"), c.held),
        (options.t("withdrawn"), c.withdrawn),
        (options.t("handed_off"), c.handed_off),
        (custody_label(view, options), c.in_custody),
        (options.t("planned_departure"), options.local(view.planned_departure)),
        (options.t("actual_departure"), options.local(view.actual_departure)),
        (options.t("planned_arrival"), options.local(view.planned_arrival)),
        (
            options.t("actual_arrival"),
            options.local(view.actual_arrival)
            + (_delay_suffix(view, options) if view.actual_arrival else ""),
        ),
    ]
    if view.current is not None:
        rows.append((options.t("last_fix"), options.local(view.current.at)))
    if view.eta is not None:
        rows.append((options.t("eta"), options.local(view.eta) + _delay_suffix(view, options)))
    if view.remaining_km is not None and view.eta is not None:
        rows.append(("", options.t("remaining", km=round(view.remaining_km))))
    if view.escorts:
        rows.append((options.t("escorts"), view.escorts))
    mode = options.t(f"mode.{view.mode}")
    title = f"{view.code} · {mode} · {options.t('status.' + view.status.value)}"
    html_text = table_html(rows, title=title)
    if view.alerts:
        items = "".join(f"<li>{alert_text(msg, options)}</li>" for _kind, msg in view.alerts)
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


def convoy_map(view: ConvoyView, *, options: MapOptions | None = None) -> folium.Map:
    """The route map of one convoy (see the module docstring for what it shows)."""
    o = options or MapOptions.from_settings()
    status = view.status
    colour = STATUS_COLOURS[status]
    route = o.pts(view.route)
    m = base_map(o, view.origin, 6, counties_at=view.route, named=[view.destination])
    b = Bindings()
    info = convoy_popup_html(view, o)

    bounds = list(route)
    path = monitored_route(view, o)  # the plan as the monitor measures it (geodesics)
    if view.corridor_km:
        # The off-route corridor with its width, under the track.
        band = folium.FeatureGroup(
            name=o.t("corridor", km=_km(view.corridor_km)), control=True
        ).add_to(m)
        Corridor(path, view.corridor_km, m.get_name()).add_to(band)
    folium.map.CustomPane(TRACK_PANE, z_index=420, pointer_events=True).add_to(m)
    if view.track:
        # The actual track: broad, translucent, in the status colour, under the plan.
        track_pts = o.pts((p.lat, p.lon) for p in view.track)
        bounds += track_pts
        group = folium.FeatureGroup(name=o.t("track"), control=True).add_to(m)
        track_line = Lines()
        track_line.add(
            track_pts,
            tooltip=esc(f"{o.t('track')} · {o.t('status.' + status.value)}"),
            color=colour,
            weight=7,
            opacity=0.55,
            lineCap="round",
            pane=TRACK_PANE,
            className=f"convoy-route-track {status_classes(view)}",
        )
        track_line.add_to(group)
    if view.alert_marks or view.stops:
        events = folium.FeatureGroup(name=o.t("events"), control=True).add_to(m)
        event_marks(view, o).add_to(events)

    # The plan: a thin dark dashed line in its own pane above every track and trail.
    folium.map.CustomPane(_PLAN_PANE, z_index=450, pointer_events=True).add_to(m)
    plan = folium.FeatureGroup(name=o.t("planned_route"), control=True).add_to(m)
    plan_line = Lines()
    plan_line.add(
        path,
        tooltip=esc(f"{o.t('planned_route')} {view.origin_name} → {view.destination_name}"),
        color=PLANNED_ROUTE_COLOUR,
        weight=2.5,
        opacity=0.95,
        dashArray="7 6",
        pane=_PLAN_PANE,
        className="convoy-route-planned",
    )
    plan_line.add_to(plan)
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
        route[-1],
        icon=badge_icon("fa-flag", "#c0392b", kind="destination", size=28),
        z_index_offset=5000,  # always on top: other badges there are spread around it
    ).add_to(plan)
    b.bind(marker, popup=info, tooltip=esc(f"{o.t('destination')}{o.colon}{view.destination_name}"))

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
        items = "".join(f"<li>{alert_text(msg, o)}</li>" for _k, msg in view.alerts)
        b.bind(
            marker,
            popup=f"<b>{esc(o.t('alerts'))}</b><ul>{items}</ul>",
            tooltip=esc(f"{o.t('alerts')}{o.colon}{len(view.alerts)}"),
        )
    b.add_to(m)

    replay = track_replay(view, o)
    if replay is not None:
        replay.add_to(m)
    InfoPanel.panel(
        o,
        _panel_html(view, o),
        position="topright",
        css_class="convoy-info",
        collapsible=True,
        fold_below=(760, 560),
    ).add_to(m)
    InfoPanel.panel(
        o,
        legend_html(
            o,
            statuses=[],
            lines=[
                (o.t("planned_route"), PLANNED_ROUTE_COLOUR, True),
                (o.t("track") + o.paren(o.t("status." + status.value)), colour, "track"),
                *(
                    [(o.t("corridor", km=_km(view.corridor_km)), CORRIDOR_COLOUR, "band")]
                    if view.corridor_km
                    else []
                ),
            ],
            notes=[o.t("late_rule", m=round(view.late_after_minutes))] if status.late else [],
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
                *(
                    [(o.t("event_place"), EVENT_ICONS["off_route"], RESOLVED_COLOUR)]
                    if view.alert_marks
                    else []
                ),
                *(
                    [
                        (
                            o.t("stop_place", d=o.duration(view.stopped_after_minutes or 0)),
                            "fa-pause",
                            STOP_COLOUR,
                        )
                    ]
                    if view.stops
                    else []
                ),
            ],
        ),
        position="bottomleft",
        css_class="convoy-legend",
        collapsible=True,
        fold_below=(1200, 760),
    ).add_to(m)
    finish_map(m, o, bounds=bounds, layers_position="topright", collapsed=True, margin=45)
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
    timing = timing_text(view, o)
    if timing:
        head += f"<div><b>{esc(timing)}</b></div>"
    counts = table_html(
        [
            (o.t("total"), c.total),
            (o.t("boarded"), c.boarded),
            (o.t("held"), c.held),
            (o.t("handed_off"), c.handed_off),
            (custody_label(view, o), c.in_custody),
        ]
    )
    alerts = ""
    if view.alerts:
        items = "".join(f"<li>{alert_text(msg, o)}</li>" for _k, msg in view.alerts)
        alerts = (
            f'<div class="convoy-alert-list"><b>{esc(o.t("alerts") + o.paren(len(view.alerts)))}'
            f"</b><ul>{items}</ul></div>"
        )
    return head + counts + alerts
