"""Replays: a time slider that moves convoys over time, in the map's language and time zone.

One control (``convoy-replay``: step back, play/pause, step forward, a slider, the clock and
the speed) drives a layer of moving badges, one per convoy:

* :func:`track_replay` — one convoy's map: the badge follows the recorded track and leaves a
  trail behind it (``convoy-replay-trail``), changing colour as the status changed;
* :func:`campaign_replay` — the overview: every convoy's badge over the days of the
  operation, at its origin until it leaves, along its track (or its planned line when there
  are no positions), at its destination once arrived, its colour following its stage.

The clock shows the operation's time zone (``MapOptions.timezone``, through the browser's
``Intl.DateTimeFormat``), whatever zone the viewer's computer is in. The replay layer appears
once the control is used; the static current-position badges are hidden meanwhile. The page
object ``<map>.convoyReplay`` (``show(i)``, ``steps``) is there for tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from folium.template import Template

from maps.leaflet import RawMacroElement, badge
from maps.style import MODE_ICONS, STATUS_COLOURS, MapOptions, esc
from models.views.mapdata import CampaignView, ConvoyView

__all__ = ["Replay", "campaign_replay", "track_replay"]

_MAX_STEPS = 400
_STEP_MINUTES = (1, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)


class Replay(RawMacroElement):
    """The replay control and its layer (build it with :func:`track_replay` or
    :func:`campaign_replay`)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var spec = {{ this.spec|tojson }};
            var fmt = new Intl.DateTimeFormat(spec.locale, {timeZone: spec.tz, year: "numeric",
                month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
                hourCycle: "h23"});
            function clock(t) {
                var p = {};
                fmt.formatToParts(new Date(t)).forEach(function (x) { p[x.type] = x.value; });
                return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
            }
            var steps = Math.max(1, Math.ceil((spec.end - spec.start) / spec.step));
            var layer = L.layerGroup();
            var items = spec.convoys.map(function (c) {
                var marker = L.marker([c.pts[0][1], c.pts[0][2]],
                    {icon: L.divIcon(c.icon), zIndexOffset: 6000, keyboard: false});
                marker.bindTooltip(c.tip, {direction: "top", offset: [0, -12]});
                var trail = null;
                if (spec.trail) {
                    trail = L.polyline([], {weight: 6, opacity: 0.95,
                        pane: map.getPane("convoy-track") ? "convoy-track" : "overlayPane",
                        className: "convoy-replay-trail"});
                    layer.addLayer(trail);
                }
                layer.addLayer(marker);
                return {c: c, marker: marker, trail: trail};
            });
            function where(pts, t) {
                var n = pts.length;
                if (t <= pts[0][0]) { return [pts[0][1], pts[0][2], 0]; }
                if (t >= pts[n - 1][0]) { return [pts[n - 1][1], pts[n - 1][2], n - 1]; }
                var lo = 0, hi = n - 1;
                while (hi - lo > 1) {
                    var mid = (lo + hi) >> 1;
                    if (pts[mid][0] <= t) { lo = mid; } else { hi = mid; }
                }
                var a = pts[lo], b = pts[hi];
                var f = b[0] === a[0] ? 0 : (t - a[0]) / (b[0] - a[0]);
                return [a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f, lo];
            }
            function state(states, t) {
                var s = states[0];
                for (var i = 1; i < states.length && states[i][0] <= t; i++) { s = states[i]; }
                return s;
            }
            var index = steps, timer = null, active = false;
            var slider, clockEl, playButton, speed;
            function activate() {
                if (active) { return; }
                active = true;
                layer.addTo(map);
                L.DomUtil.addClass(map.getContainer(), "convoy-replaying");
            }
            function show(i) {
                activate();
                index = Math.max(0, Math.min(steps, i));
                var t = index === steps ? spec.end : spec.start + index * spec.step;
                items.forEach(function (it) {
                    var p = where(it.c.pts, t), s = state(it.c.states, t);
                    it.marker.setLatLng([p[0], p[1]]);
                    var el = it.marker.getElement();
                    if (el) {
                        var b = el.querySelector(".convoy-badge");
                        if (b) { b.style.background = s[1]; }
                        el.setAttribute("data-status", s[2]);
                        el.setAttribute("data-code", it.c.code);
                    }
                    if (it.trail) {
                        var line = it.c.pts.slice(0, p[2] + 1).map(function (q) {
                            return [q[1], q[2]];
                        });
                        line.push([p[0], p[1]]);
                        it.trail.setLatLngs(line);
                        it.trail.setStyle({color: s[1]});
                    }
                    it.marker.setTooltipContent(it.c.tip + " · " + s[3]);
                });
                slider.value = String(index);
                clockEl.textContent = clock(t);
                map.fire("convoyreplay", {index: index, time: t});
            }
            function stop() {
                if (timer !== null) { clearInterval(timer); timer = null; }
                playButton.firstChild.className = "fa-solid fa-play";
                playButton.title = spec.texts.play;
                playButton.setAttribute("aria-label", spec.texts.play);
            }
            function play() {
                if (index >= steps) { show(0); }
                playButton.firstChild.className = "fa-solid fa-pause";
                playButton.title = spec.texts.pause;
                playButton.setAttribute("aria-label", spec.texts.pause);
                timer = setInterval(function () {
                    if (index >= steps) { stop(); return; }
                    show(index + Number(speed.value));
                }, 100);
            }
            function button(div, icon, title, onClick) {
                var a = L.DomUtil.create("a", "convoy-replay-button", div);
                a.href = "#";
                a.title = title;
                a.setAttribute("role", "button");
                a.setAttribute("aria-label", title);
                L.DomUtil.create("i", "fa-solid " + icon, a);
                L.DomEvent.on(a, "click", function (e) {
                    L.DomEvent.preventDefault(e);
                    onClick();
                });
                return a;
            }
            var control = L.control({position: "bottomleft"});
            control.onAdd = function () {
                var div = L.DomUtil.create("div", "leaflet-bar convoy-replay");
                div.title = spec.texts.title;
                button(div, "fa-backward-step", spec.texts.back, function () {
                    stop(); show(index - 1);
                });
                playButton = button(div, "fa-play", spec.texts.play, function () {
                    if (timer === null) { play(); } else { stop(); }
                });
                button(div, "fa-forward-step", spec.texts.forward, function () {
                    stop(); show(index + 1);
                });
                slider = L.DomUtil.create("input", "convoy-replay-slider", div);
                slider.type = "range";
                slider.min = "0";
                slider.max = String(steps);
                slider.value = String(steps);
                slider.title = spec.texts.slider;
                slider.setAttribute("aria-label", spec.texts.slider);
                L.DomEvent.on(slider, "input", function () { stop(); show(Number(slider.value)); });
                clockEl = L.DomUtil.create("span", "convoy-replay-clock", div);
                clockEl.title = spec.texts.clock;
                clockEl.textContent = clock(spec.end);
                speed = L.DomUtil.create("select", "convoy-replay-speed", div);
                speed.title = spec.texts.speed;
                speed.setAttribute("aria-label", spec.texts.speed);
                [1, 2, 4, 8].forEach(function (n) {
                    var option = L.DomUtil.create("option", "", speed);
                    option.value = String(n);
                    option.textContent = n + "×";
                });
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            control.addTo(map);
            map.convoyReplay = {show: show, steps: steps, items: items, start: spec.start,
                                end: spec.end, step: spec.step};
        })();
        {% endmacro %}
        """
    )

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__()
        self._name = "Replay"
        self.spec = spec


def _step_ms(start: int, end: int) -> int:
    span_min = max(1.0, (end - start) / 60_000)
    minutes = next((m for m in _STEP_MINUTES if span_min / m <= _MAX_STEPS), _STEP_MINUTES[-1])
    return minutes * 60_000


def _points(view: ConvoyView, o: MapOptions, *, ends: bool) -> list[list[float]]:
    """``[time_ms, lat, lon]`` of the convoy over time (as drawn). With ``ends``, the origin at
    the departure and the destination at the arrival frame the track (or stand in for it)."""
    pts = [[o.ms(p.at), *o.pt(p.lat, p.lon)] for p in view.track]
    if ends:
        start = view.actual_departure or view.planned_departure
        if not pts or o.ms(start) < pts[0][0]:
            pts.insert(0, [o.ms(start), *o.pt(*view.origin)])
        if view.actual_arrival is not None and o.ms(view.actual_arrival) > pts[-1][0]:
            pts.append([o.ms(view.actual_arrival), *o.pt(*view.destination)])
        elif len(pts) == 1 and view.actual_departure is not None:
            pts.append([o.ms(view.planned_arrival), *o.pt(*view.destination)])
    return [[t, round(lat, 5), round(lon, 5)] for t, lat, lon in pts]


def _states(view: ConvoyView, o: MapOptions) -> list[list[Any]]:
    return [
        [
            0 if since is None else o.ms(since),
            STATUS_COLOURS[status],
            status.value,
            o.t("status." + status.value),
        ]
        for since, status in view.status_changes()
    ]


def _texts(o: MapOptions, title: str) -> dict[str, str]:
    return {
        "title": title,
        "play": o.t("replay.play"),
        "pause": o.t("replay.pause"),
        "back": o.t("replay.back"),
        "forward": o.t("replay.forward"),
        "slider": o.t("replay.slider"),
        "clock": o.t("replay.clock", zone=o.zone_name),
        "speed": o.t("replay.speed"),
    }


def _spec(
    o: MapOptions, convoys: Sequence[dict[str, Any]], start: int, end: int, *, trail: bool
) -> dict[str, Any]:
    return {
        "locale": o.locale,
        "tz": o.timezone,
        "start": start,
        "end": end,
        "step": _step_ms(start, end),
        "trail": trail,
        "convoys": list(convoys),
        "texts": _texts(o, o.t("replay")),
    }


def _convoy(view: ConvoyView, o: MapOptions, pts: list[list[float]], size: int) -> dict[str, Any]:
    icon = badge(MODE_ICONS.get(view.mode, "fa-location-dot"), "#7f8c8d", kind="replay", size=size)
    return {
        "code": view.code,
        "pts": pts,
        "states": _states(view, o),
        "icon": icon,
        "tip": esc(f"{view.code} · {o.t('mode.' + view.mode)}"),
    }


def track_replay(view: ConvoyView, o: MapOptions) -> Replay | None:
    """The replay of one convoy's recorded track (``None`` with fewer than two fixes)."""
    if len(view.track) < 2:
        return None
    pts = _points(view, o, ends=False)
    spec = _spec(o, [_convoy(view, o, pts, 24)], int(pts[0][0]), int(pts[-1][0]), trail=True)
    return Replay(spec)


def campaign_replay(campaign: CampaignView, o: MapOptions, now: datetime | None = None) -> Replay:
    """The replay of a whole campaign: from the first step recorded (a muster) or the first
    departure, an hour earlier, to the last arrival, closing or fix (``now`` at the latest,
    when given)."""
    convoys = []
    first: list[int] = []
    last: list[int] = []
    for view in sorted(campaign.convoys, key=lambda c: c.code):
        pts = _points(view, o, ends=True)
        convoys.append(_convoy(view, o, pts, 20))
        moments = [int(pts[0][0]), int(pts[-1][0])] + [o.ms(at) for _s, at in view.stage_times]
        first.append(min(moments))
        last.append(max(moments))
    start = min(first) - 3_600_000 if first else 0
    end = max(last) if last else 1
    if now is not None:
        end = min(end, o.ms(now))
    return Replay(_spec(o, convoys, start, max(end, start + 60_000), trail=False))
