"""The OsmAnd protocol: query/form reports and the JSON body of newer Traccar Client versions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.errors import ValidationError
from models.tracking.osmand import parse_osmand


def test_parse_osmand_query_and_json() -> None:
    r = parse_osmand(
        {"id": "p1", "lat": "31.8", "lon": "117.2", "timestamp": "1582178400", "speed": "10",
         "bearing": "90", "altitude": "12", "accuracy": "8", "batt": "77"}
    )  # fmt: skip
    assert r.device_id == "p1"
    assert r.fix.at == datetime(2020, 2, 20, 6, 0, tzinfo=UTC)
    assert r.fix.speed_kmh == pytest.approx(18.52)  # knots → km/h
    assert (r.fix.bearing, r.fix.altitude, r.fix.accuracy, r.fix.battery) == (90, 12, 8, 77)
    ms = parse_osmand({"id": "p1", "lat": "31.8", "lon": "117.2", "timestamp": "1582178400000"})
    assert ms.fix.at == r.fix.at
    iso = parse_osmand(
        {"deviceid": "p1", "location": "31.8,117.2", "timestamp": "2020-02-20T06:00:00Z"}
    )
    assert (iso.fix.lat, iso.fix.at) == (31.8, r.fix.at)
    js = parse_osmand(
        {
            "device_id": "p2",
            "location": {
                "timestamp": "2020-02-20T06:00:00.000Z",
                "coords": {"latitude": 31.8, "longitude": 117.2, "speed": 10, "heading": 45},
                "battery": {"level": 0.5},
            },
        }
    )
    assert (js.device_id, js.fix.speed_kmh, js.fix.battery, js.fix.bearing) == ("p2", 36.0, 50, 45)
    with pytest.raises(ValidationError, match="device id"):
        parse_osmand({"lat": "1", "lon": "2"})
    with pytest.raises(ValidationError, match="not a number"):
        parse_osmand({"id": "x", "lat": "north", "lon": "2"})
