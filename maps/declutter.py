"""Nothing hidden: badges that would cover each other are spread apart, at every zoom.

:class:`Declutter` runs in the browser after every zoom, pan and layer change. It measures
every badge on the marker pane (``convoy-marker`` and the enterprise clusters), keeps the most
important ones where they are — the destination flag first, then the current position,
alerts, origins … (:data:`PRIORITY`) — and moves each badge that would overlap one already
placed to the nearest free spot (vertical stacking first, then sideways), with a thin leader
line back to its true point (``convoy-leader``). Only the badge is moved (its CSS margin), not
the marker: popups, tooltips and the data keep the real coordinates.
"""

from __future__ import annotations

from folium.template import Template

from maps.leaflet import RawMacroElement

__all__ = ["PRIORITY", "Declutter"]

#: Which badge keeps its place when two would overlap (higher first); by the ``kind`` of
#: :func:`maps.leaflet.badge` (CSS class ``convoy-marker-<kind>``).
PRIORITY: dict[str, int] = {
    "destination": 100,
    "site": 95,
    "current": 90,
    "alert": 80,
    "stop": 75,
    "origin": 70,
    "count": 60,
    "start": 60,
    "checkpoint": 50,
    "entrance": 45,
    "enterprise": 40,
    "cluster": 30,
    "waypoint": 10,
}


class Declutter(RawMacroElement):
    """Spread overlapping badges of the map apart (add it after every marker layer)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var priority = {{ this.priority|tojson }};
            var pane = map.getPane("markerPane");
            function rank(el) {
                if (el.classList.contains("marker-cluster")) { return priority.cluster; }
                for (var kind in priority) {
                    if (el.classList.contains("convoy-marker-" + kind)) { return priority[kind]; }
                }
                return 0;
            }
            function reset(el) {
                if (el.dataset.baseLeft === undefined) {
                    el.dataset.baseLeft = parseFloat(el.style.marginLeft) || 0;
                    el.dataset.baseTop = parseFloat(el.style.marginTop) || 0;
                }
                el.style.marginLeft = el.dataset.baseLeft + "px";
                el.style.marginTop = el.dataset.baseTop + "px";
                el.querySelectorAll(":scope > .convoy-leader").forEach(function (line) {
                    line.remove();
                });
                el.removeAttribute("data-moved");
            }
            function overlap(a, b) {
                return a.left < b.right - 1 && b.left < a.right - 1 &&
                    a.top < b.bottom - 1 && b.top < a.bottom - 1;
            }
            function offsets(w, h) {
                var list = [];
                for (var i = -3; i <= 3; i++) {
                    for (var j = -4; j <= 4; j++) {
                        var dx = i * (w + 4), dy = j * (h + 3);
                        list.push([dx, dy, dx * dx + dy * dy + (i ? 0.5 : 0)]);
                    }
                }
                return list.sort(function (a, b) { return a[2] - b[2]; });
            }
            function move(el, dx, dy, w, h) {
                el.style.marginLeft = (Number(el.dataset.baseLeft) + dx) + "px";
                el.style.marginTop = (Number(el.dataset.baseTop) + dy) + "px";
                el.setAttribute("data-moved", dx + "," + dy);
                var leader = L.DomUtil.create("div", "convoy-leader", el);
                leader.style.left = (w / 2) + "px";
                leader.style.top = (h / 2) + "px";
                leader.style.width = Math.hypot(dx, dy) + "px";
                leader.style.transform = "rotate(" + Math.atan2(-dy, -dx) + "rad)";
            }
            function run() {
                var els = Array.prototype.filter.call(
                    pane.querySelectorAll(".convoy-marker, .marker-cluster"), function (el) {
                        return !el.classList.contains("convoy-marker-replay") &&
                            el.style.display !== "none" && el.style.opacity !== "0";
                    });
                els.forEach(reset);
                var boxes = els.map(function (el, i) {
                    return {el: el, rank: rank(el), i: i, r: el.getBoundingClientRect()};
                });
                boxes.sort(function (a, b) { return b.rank - a.rank || a.i - b.i; });
                var placed = [];
                boxes.forEach(function (b) {
                    var r = b.r, w = r.width, h = r.height, spot = null;
                    if (!w || !h) { return; }
                    var list = offsets(w, h);
                    for (var k = 0; k < list.length && spot === null; k++) {
                        var c = {left: r.left + list[k][0], right: r.right + list[k][0],
                                 top: r.top + list[k][1], bottom: r.bottom + list[k][1]};
                        if (!placed.some(function (q) { return overlap(q, c); })) {
                            spot = [list[k][0], list[k][1], c];
                        }
                    }
                    if (spot === null) { spot = [0, 0, r]; }
                    if (spot[0] || spot[1]) { move(b.el, spot[0], spot[1], w, h); }
                    placed.push(spot[2]);
                });
            }
            var pending = false;
            function schedule() {
                if (pending) { return; }
                pending = true;
                requestAnimationFrame(function () { pending = false; run(); });
            }
            map.on("zoomend moveend viewreset overlayadd overlayremove layeradd layerremove",
                   schedule);
            map.eachLayer(function (layer) {  // clusters fade markers in without map events
                if (L.MarkerClusterGroup && layer instanceof L.MarkerClusterGroup) {
                    layer.on("animationend spiderfied unspiderfied", schedule);
                }
            });
            map.whenReady(schedule);
            window.addEventListener("load", function () {
                schedule();
                setTimeout(schedule, 400);
            });
            map.convoyDeclutter = run;
        })();
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "Declutter"
        self.priority = PRIORITY
