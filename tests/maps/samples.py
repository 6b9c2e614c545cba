"""A map with every feature the offline machinery must cover (shared by the map tests)."""

from __future__ import annotations

import folium
from folium import plugins

from maps.offline import new_map

NINGBO = (29.874, 121.550)
WEINAN = (34.500, 109.510)
HANGZHOU = (30.274, 120.155)
ROUTE_CLASS = "convoy-test-route"
TRACK_CLASS = "convoy-test-track"

#: What the browser must find on the page built by :func:`build_convoy_map`.
EXPECTED = {
    "plain_markers": 3,  # marker icons outside the cluster
    "clustered_markers": 12,  # markers inside the MarkerCluster
    "routes": 2,  # polylines with ROUTE_CLASS
    "provinces": 34,  # basemap polygons
}


def build_convoy_map(**new_map_kwargs: object) -> folium.Map:
    """Markers (default, glyphicon and Font Awesome icons), two polylines, a MarkerCluster,
    Fullscreen, a TimestampedGeoJson and a LayerControl on the offline basemap."""
    m = new_map((31.5, 114.5), 5, **new_map_kwargs)  # type: ignore[arg-type]
    folium.Marker(
        NINGBO, tooltip="宁波", icon=folium.Icon(color="red", icon="bus", prefix="fa")
    ).add_to(m)
    folium.Marker(WEINAN, tooltip="渭南", icon=folium.Icon()).add_to(m)  # glyphicon info-sign
    folium.Marker(HANGZHOU, tooltip="杭州").add_to(m)  # Leaflet's default image icon
    folium.PolyLine(
        [WEINAN, (32.0, 114.0), NINGBO], color="#c00", weight=4, class_name=ROUTE_CLASS
    ).add_to(m)
    folium.PolyLine([HANGZHOU, NINGBO], color="#06c", weight=3, class_name=ROUTE_CLASS).add_to(m)
    cluster = plugins.MarkerCluster(name="乘客").add_to(m)
    for i in range(EXPECTED["clustered_markers"]):
        folium.Marker((26.5 + (i % 4) * 0.02, 106.7 + (i // 4) * 0.02)).add_to(cluster)
    plugins.Fullscreen().add_to(m)
    t0 = 1_580_000_000_000
    track = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[WEINAN[1], WEINAN[0]], [114.0, 32.0], [NINGBO[1], NINGBO[0]]],
                },
                "properties": {
                    "times": [t0, t0 + 3_600_000, t0 + 7_200_000],
                    "style": {"color": "#0a0", "className": TRACK_CLASS},
                },
            }
        ],
    }
    plugins.TimestampedGeoJson(track, period="PT1H", auto_play=False, add_last_point=False).add_to(
        m
    )
    folium.LayerControl(collapsed=False).add_to(m)
    return m
