"""Health screening rules, stored per passenger per checkpoint, arrival spot checks and the
entry-application follow-up list (real SQLite)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from config import Settings, reset_settings
from models.convoy.checkins import record_checkin
from models.convoy.lifecycle import Stage
from models.convoy.operations import advance, arrival_sample
from models.convoy.screening import Reading, checks_for, entry_followup, evaluate
from models.convoy.store import get_convoy, passengers
from models.convoy.tables import ScreeningResult
from models.db import session_scope
from models.errors import ConfigurationError
from tests.conftest import SHANGHAI

T0 = datetime(2020, 2, 20, 11, 0, tzinfo=SHANGHAI)
RULES = {
    "fever_celsius": 37.3,
    "temperature_min": 34.0,
    "temperature_max": 43.0,
    "remeasure_after_rest": True,
    "nat_valid_hours": 48,
    "health_code_required": "green",
}


def ok(**over: object) -> Reading:
    base: dict[str, object] = {
        "temperature": 36.5,
        "nat_result": "negative",
        "nat_time": T0 - timedelta(hours=10),
        "health_code": "green",
    }
    base.update(over)
    return Reading(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reading", "rules", "reason"),
    [
        (ok(), RULES, ""),
        (ok(temperature=37.3), RULES, "fever 37.3 °C (threshold 37.3 °C)"),
        (ok(temperature=37.2), RULES, ""),
        (ok(temperature=37.8, retemperature=36.9), RULES, ""),
        (
            ok(temperature=37.8, retemperature=37.5),
            RULES,
            "fever 37.8 °C, still 37.5 °C after rest",
        ),
        (
            ok(temperature=37.8, retemperature=36.9),
            {**RULES, "remeasure_after_rest": False},
            "fever 37.8 °C (threshold 37.3 °C)",
        ),
        (ok(temperature=37.8, retemperature=20.0), RULES, "the re-measurement 20.0 °C is outside"),
        (ok(temperature=None), RULES, "no temperature was measured"),
        (ok(temperature=30.0), RULES, "the temperature reading 30.0 °C is outside"),
        (ok(temperature=37.0), {**RULES, "fever_celsius": 37.0}, "fever 37.0"),
        (ok(nat_result="positive"), RULES, "positive nucleic-acid test"),
        (ok(nat_result=""), RULES, "no nucleic-acid test result"),
        (ok(nat_time=None), RULES, "the nucleic-acid test has no time"),
        (ok(nat_time=T0 - timedelta(hours=50)), RULES, "the nucleic-acid test is 50 h old"),
        (ok(nat_time=T0 - timedelta(hours=50)), {**RULES, "nat_valid_hours": 72}, ""),
        (ok(nat_time=T0 + timedelta(hours=2)), RULES, "the nucleic-acid test time is later"),
        (ok(health_code="yellow"), RULES, "yellow health code"),
        (ok(health_code=""), RULES, "no health code was shown"),
    ],
)
def test_rules(reading: Reading, rules: dict, reason: str) -> None:
    verdict = evaluate(reading, rules, T0)
    assert verdict.passed == (reason == "")
    assert verdict.reason.startswith(reason)


def test_checks_per_checkpoint_come_from_the_rules() -> None:
    assert checks_for({}, "arrival") == ("temperature", "health_code")
    assert checks_for({"arrival_checks": ["temperature"]}, "arrival") == ("temperature",)
    assert checks_for({}, "pre_departure") == ("temperature", "nat", "health_code")
    with pytest.raises(ConfigurationError, match="unknown checks x"):
        checks_for({"departure_checks": ["x"]}, "pre_departure")


def _to_arrival(code: str) -> None:
    with session_scope() as s:
        record_checkin(s, code, "muster", {}, at=T0)
    with session_scope() as s:
        advance(s, code, Stage.MUSTERING)
        advance(s, code, Stage.VERIFIED)
    good = [
        {
            "seat": n,
            "temperature": 36.5,
            "nat_result": "阴性",
            "nat_time": (T0 - timedelta(hours=5)).isoformat(),
            "health_code": "绿",
        }
        for n in range(1, 21)
    ]
    good[1]["temperature"] = 38.1
    good[2]["temperature"] = 37.6
    good[2]["retemperature"] = 36.8
    with session_scope() as s:
        record_checkin(
            s,
            code,
            "screening",
            {"results": good, "location": "蒲城县体育馆"},
            at=T0 + timedelta(hours=1),
        )
    with session_scope() as s:
        advance(s, code, Stage.SCREENED)
        record_checkin(s, code, "depart", {}, at=T0 + timedelta(hours=2))
    with session_scope() as s:
        advance(s, code, Stage.DEPARTED)
        record_checkin(s, code, "entry", {"seats": list(range(1, 16))}, at=T0 + timedelta(hours=3))
    with session_scope() as s:
        transit = advance(s, code, Stage.IN_TRANSIT)
        assert transit.summary["entry_missing_seats"] == [16, 17, 18, 19, 20]
        assert sum(transit.summary["entry_missing_by_employer"].values()) == 5
        record_checkin(s, code, "arrive", {}, at=T0 + timedelta(hours=28))
    with session_scope() as s:
        advance(s, code, Stage.ARRIVED)


def test_screening_and_spot_checks_store_results_and_hold(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    code = make_convoy("BUS-S1", n=20)
    _to_arrival(code)
    with session_scope() as s:
        convoy = get_convoy(s, code)
        seat2 = next(p for p in passengers(s, convoy) if p.seat == 2)
        assert seat2.custody == "held"
        assert seat2.custody_reason == "screening: fever 38.1 °C (threshold 37.3 °C)"
        assert seat2.custody_location == "蒲城县体育馆"
        sample = arrival_sample(convoy, list(range(1, 21)), 0.1)
        sample = [x for x in sample if x != 2]
    spot = [{"seat": sample[0], "temperature": 37.9, "health_code": "green"}]
    with session_scope() as s:
        record_checkin(
            s,
            code,
            "arrival_screening",
            {"results": spot, "location": "象山汽车站"},
            at=T0 + timedelta(hours=28, minutes=10),
        )
    with session_scope() as s:
        result = advance(s, code, Stage.ARRIVAL_SCREENED)
    assert result.summary["held"] == 1 and result.summary["screened"] == 1
    assert result.summary["sample_size"] == 2
    with session_scope() as s:
        convoy = get_convoy(s, code)
        held = next(p for p in passengers(s, convoy) if p.seat == sample[0])
        assert held.custody == "held" and held.custody_location == "象山汽车站"
        rows = s.execute(select(ScreeningResult.checkpoint, ScreeningResult.passed)).all()
        assert sum(1 for c, _ in rows if c == "pre_departure") == 20
        assert [(c, p) for c, p in rows if c == "arrival"] == [("arrival", False)]


def test_arrival_checks_follow_the_rule_file(
    make_convoy: Callable[..., str], settings: Settings, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    text = Path(settings.rules_file).read_text(encoding="utf-8")
    rules.write_text(
        text.replace(
            'arrival_checks = ["temperature", "health_code"]',
            'arrival_checks = ["temperature", "nat", "health_code"]',
        ),
        encoding="utf-8",
    )
    reset_settings(rules_file=rules)
    code = make_convoy("BUS-S2", n=20)
    _to_arrival(code)
    with session_scope() as s:
        record_checkin(
            s,
            code,
            "arrival_screening",
            {"results": [{"seat": 1, "temperature": 36.4, "health_code": "green"}]},
            at=T0 + timedelta(hours=80),
        )
    with session_scope() as s:
        result = advance(s, code, Stage.ARRIVAL_SCREENED)
        assert result.summary["held"] == 1  # the manifest's test is now too old
        p1 = next(p for p in passengers(s, get_convoy(s, code)) if p.seat == 1)
        assert "nucleic-acid test" in p1.custody_reason
    reset_settings()


def test_entry_followup_list_is_masked(make_convoy: Callable[..., str], settings: Settings) -> None:
    code = make_convoy("BUS-S3", n=4)
    with session_scope() as s:
        convoy = get_convoy(s, code)
        record_checkin(s, code, "entry", {"seats": [1, 3]}, at=T0)
        people = {p.seat: p for p in passengers(s, convoy)}
        todo = entry_followup(s, convoy.id)
    assert [t["seat"] for t in todo] == [2, 4]
    assert todo[0]["phone"] != people[2].phone and todo[0]["phone"].count("*") == 4
    assert todo[0]["name"].endswith("*")
