"""The route as the delay monitor sees it, on the convoy map: the planned route along the
geodesics the monitor measures against, the off-route corridor with its real width, and the
alerts and long stops where they happened.

* :func:`monitored_route` — the planned route as the monitor prepares it
  (``models.geo.geodesy.prepare_polyline``: geodesic pieces of at most 25 km), so the drawn
  line is the one distances are measured from (a straight line on the Mercator map would be
  tens of kilometres off over 1,000 km);
* :class:`Corridor` — a translucent band ``corridor_km`` wide on each side of that route
  (``convoy-corridor``), recomputed in pixels at every zoom from the metres per pixel at each
  piece's latitude; a fix outside it is an ``off_route`` alert;
* :func:`event_marks` — a badge for every alert (open: red; resolved: pale) at the position it
  was raised (``convoy-marker-event``) and for every long stop found on the track
  (``convoy-marker-stop``), with the time and the humanised duration in the tooltip.
"""

from __future__ import annotations

from collections.abc import Sequence

from folium.template import Template

from maps.leaflet import BadgeMarkers, RawMacroElement, badge
from maps.style import STATUS_COLOURS, MapOptions, esc
from models.geo.datums import LatLon
from models.geo.geodesy import prepare_polyline
from models.views.mapdata import ConvoyView, MapStatus

__all__ = [
    "CORRIDOR_COLOUR",
    "CORRIDOR_PANE",
    "EVENT_ICONS",
    "RESOLVED_COLOUR",
    "STOP_COLOUR",
    "Corridor",
    "event_marks",
    "monitored_route",
]

CORRIDOR_PANE = "convoy-corridor"
CORRIDOR_COLOUR = "#1f78b4"
STOP_COLOUR = "#5d6d7e"
RESOLVED_COLOUR = "#d98880"
EVENT_ICONS = {
    "off_route": "fa-route",
    "stopped": "fa-pause",
    "stale_position": "fa-satellite-dish",
    "late_departure": "fa-clock",
    "late_arrival": "fa-clock",
}
_CHUNK = 8  # vertices per corridor piece (each piece gets the width of its own latitude)


def monitored_route(view: ConvoyView, o: MapOptions) -> list[LatLon]:
    """The planned route as the monitor measures it (geodesic vertices), as drawn."""
    return o.pts(prepare_polyline(view.route).vertices)


class Corridor(RawMacroElement):
    """The off-route corridor: ``km`` on each side of ``points`` (as drawn), in its own pane
    (translucent as a whole, so overlapping pieces do not darken)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var group = {{ this._parent.get_name() }};
            var map = {{ this.map_name }};
            var name = {{ this.pane|tojson }};
            var pane = map.getPane(name) || map.createPane(name);
            pane.style.zIndex = 410;
            pane.style.opacity = 0.2;
            pane.style.pointerEvents = "none";
            var km = {{ this.km }};
            var pieces = {{ this.pieces|tojson }}.map(function (pts) {
                var lat = pts.reduce(function (s, p) { return s + p[0]; }, 0) / pts.length;
                var line = L.polyline(pts, {pane: name, color: {{ this.colour|tojson }},
                    opacity: 1, weight: 2, lineCap: "round", lineJoin: "round",
                    interactive: false, className: "convoy-corridor"});
                group.addLayer(line);
                return {lat: lat, line: line};
            });
            function widen() {
                var z = map.getZoom();
                pieces.forEach(function (p) {
                    var mpp = 40075016.686 * Math.cos(p.lat * Math.PI / 180) / Math.pow(2, z + 8);
                    p.line.setStyle({weight: Math.max(2, 2 * km * 1000 / mpp)});
                    var path = p.line.getElement();
                    if (path) {
                        path.setAttribute("data-km", String(km));
                        path.setAttribute("data-lat", String(p.lat));
                    }
                });
            }
            map.on("zoomend", widen);
            map.whenReady(widen);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, points: Sequence[LatLon], km: float, map_name: str) -> None:
        super().__init__()
        self._name = "Corridor"
        pts = [[round(p[0], 5), round(p[1], 5)] for p in points]
        self.pieces = [
            pts[i : i + _CHUNK + 1] for i in range(0, max(1, len(pts) - 1), _CHUNK) if pts
        ]
        self.km = float(km)
        self.pane = CORRIDOR_PANE
        self.colour = CORRIDOR_COLOUR
        self.map_name = map_name


def _kind(o: MapOptions, kind: str) -> str:
    text = o.t(f"alert.{kind}")
    return kind if text == f"alert.{kind}" else text


def event_marks(view: ConvoyView, o: MapOptions) -> BadgeMarkers:
    """Badges for the alerts at their places and for the long stops on the track."""
    marks = BadgeMarkers()
    for alert in view.alert_marks:
        if alert.lat is None or alert.lon is None:
            continue
        colour = STATUS_COLOURS[MapStatus.ALERT] if alert.open else RESOLVED_COLOUR
        state = o.t("alert_open" if alert.open else "alert_resolved")
        tip = f"{_kind(o, alert.kind)}{o.colon}{o.humanise(alert.text)}"
        tip += f" · {o.local(alert.opened_at)} · {state}"
        marks.add(
            o.pt(alert.lat, alert.lon),
            badge(
                EVENT_ICONS.get(alert.kind, "fa-triangle-exclamation"),
                colour,
                kind=f"event convoy-event-{alert.kind}",
                size=20,
            ),
            tooltip=esc(tip),
            z_index_offset=1500,
        )
    for stop in view.stops:
        span = f"{o.local(stop.since)}–{o.local(stop.until, '%H:%M')}"
        tip = f"{o.t('long_stop')} {o.duration(stop.minutes)}{o.paren(span)}"
        marks.add(
            o.pt(stop.lat, stop.lon),
            badge("fa-pause", STOP_COLOUR, kind="stop", size=20),
            tooltip=esc(tip),
            z_index_offset=1400,
        )
    return marks
