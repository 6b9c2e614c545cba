"""Property-based: whatever a tracker (or an attacker) sends, the OsmAnd parser and the time
parser either give a fix a tracker could have taken or refuse with a ValidationError — never
another exception, never a value that is not finite or out of range."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from models.errors import ValidationError
from models.tracking.fixes import EARLIEST, TELEMETRY, parse_time
from models.tracking.osmand import parse_osmand

NOW = datetime(2026, 1, 1, tzinfo=UTC)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.booleans(),
)
texts = st.one_of(
    st.text(max_size=30),
    numbers.map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "1e20", "-62135596801", "0001-01-01",
                     "12345678901234567890", "2020-02-20T06:00:00Z", "true", ""]),
)  # fmt: skip
values = st.one_of(texts, numbers, st.none(), st.lists(numbers, max_size=3),
                   st.dictionaries(st.text(max_size=5), numbers, max_size=3))  # fmt: skip
FIELDS = ["id", "lat", "lon", "timestamp", "speed", "bearing", "altitude", "accuracy", "batt",
          "location", "deviceid", "heading", "hdop", "battery", "token"]  # fmt: skip


def _sound(fix: Any) -> None:
    assert fix.at >= EARLIEST
    assert -90 <= fix.lat <= 90 and -180 <= fix.lon <= 180
    for name, low, high in TELEMETRY:
        value = getattr(fix, name)
        assert value is None or (math.isfinite(value) and low <= value <= high), (name, value)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), values, max_size=10))
def test_query_fields_parse_or_are_refused(params: dict[str, Any]) -> None:
    params.setdefault("id", "p1")
    try:
        report = parse_osmand(params, NOW)
    except ValidationError:
        return
    _sound(report.fix)


coords = st.dictionaries(
    st.sampled_from(["latitude", "longitude", "speed", "heading", "altitude", "accuracy"]),
    values,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    coords=st.one_of(coords, values),
    timestamp=values,
    battery=st.one_of(values, st.fixed_dictionaries({"level": values})),
)
def test_json_reports_parse_or_are_refused(coords: Any, timestamp: Any, battery: Any) -> None:
    doc = {"device_id": "p2", "location": {"coords": coords, "timestamp": timestamp,
                                           "battery": battery}}  # fmt: skip
    try:
        report = parse_osmand(doc, NOW)
    except ValidationError:
        return
    _sound(report.fix)


@settings(max_examples=300, deadline=None)
@given(st.one_of(texts, numbers))
def test_times_parse_or_are_refused(value: Any) -> None:
    try:
        at = parse_time(value)
    except ValidationError:
        return
    assert at.tzinfo is not None and at >= EARLIEST
