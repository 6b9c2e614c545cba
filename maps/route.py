"""Per-convoy route map: plan, actual track, stage and counts (no personal data)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import folium

from models.lifecycle import Census, Stage
from models.tables import Convoy, Position

STAGE_COLOURS = {
    Stage.CLOSED: "green",
    Stage.HANDED_OFF: "green",
    Stage.ARRIVAL_SCREENED: "blue",
    Stage.ARRIVED: "blue",
    Stage.IN_TRANSIT: "orange",
    Stage.DEPARTED: "orange",
}


def convoy_map(convoy: Convoy, positions: Sequence[Position], census: Census) -> folium.Map:
    """A map of one convoy: origin, waypoints, destination, planned route and actual track."""
    route = convoy.route()
    m = folium.Map(tiles=None, control_scale=True)
    colour = STAGE_COLOURS.get(Stage(convoy.stage), "gray")
    folium.PolyLine(
        route, color="#555", weight=3, dash_array="6 6", tooltip="planned route"
    ).add_to(m)
    if positions:
        folium.PolyLine(
            [(p.lat, p.lon) for p in positions], color=colour, weight=4, tooltip="actual track"
        ).add_to(m)
    counts = (
        f"{census.total} passengers: {census.handed_off} handed off, {census.held} held, "
        f"{census.withdrawn} withdrawn, {census.in_custody} in custody"
    )
    folium.Marker(
        route[0], tooltip=f"origin {convoy.origin_name}", popup=f"{convoy.code}: {counts}"
    ).add_to(m)
    for w in convoy.waypoints or []:
        folium.CircleMarker((w["lat"], w["lon"]), radius=4, tooltip=w.get("name", "")).add_to(m)
    folium.Marker(route[-1], tooltip=f"destination {convoy.destination_name}").add_to(m)
    lats = [p[0] for p in route]
    lons = [p[1] for p in route]
    m.fit_bounds([(min(lats), min(lons)), (max(lats), max(lons))])
    return m


def save_map(m: folium.Map, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    m.save(str(path))
    return path
