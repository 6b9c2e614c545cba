"""Health screening rules (temperature, nucleic-acid test, health code) as plain functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from models.errors import ValidationError

HEALTH_CODES = {
    "green": "green", "绿": "green", "绿码": "green", "g": "green",
    "yellow": "yellow", "黄": "yellow", "黄码": "yellow", "y": "yellow",
    "red": "red", "红": "red", "红码": "red", "r": "red",
}  # fmt: skip
NAT_RESULTS = {
    "negative": "negative", "阴性": "negative", "neg": "negative", "-": "negative",
    "positive": "positive", "阳性": "positive", "pos": "positive", "+": "positive",
}  # fmt: skip


def normalise_health_code(value: Any) -> str:
    """'绿', 'Green', '绿码' → 'green'. Empty stays empty; anything else is an error."""
    text = str(value or "").strip().lower()
    if not text:
        return ""
    try:
        return HEALTH_CODES[text]
    except KeyError:
        raise ValidationError(
            f"The health code {value!r} is not one of green/yellow/red (绿/黄/红)."
        ) from None


def normalise_nat_result(value: Any) -> str:
    """'阴性', 'Negative' → 'negative'. Empty stays empty; anything else is an error."""
    text = str(value or "").strip().lower()
    if not text:
        return ""
    try:
        return NAT_RESULTS[text]
    except KeyError:
        raise ValidationError(
            f"The nucleic-acid test result {value!r} is not negative/positive (阴性/阳性)."
        ) from None


@dataclass(frozen=True)
class Reading:
    """What was measured or shown at a checkpoint."""

    temperature: float | None = None
    retemperature: float | None = None
    nat_result: str = ""
    nat_time: datetime | None = None
    health_code: str = ""


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str = ""


ALL_CHECKS = ("temperature", "nat", "health_code")
SPOT_CHECKS = ("temperature", "health_code")


def evaluate(
    reading: Reading,
    rules: dict[str, Any],
    at: datetime,
    checks: tuple[str, ...] = ALL_CHECKS,
) -> Verdict:
    """Apply the screening rules; the first failing check gives the reason."""
    fever = float(rules.get("fever_celsius", 37.3))
    lo, hi = float(rules.get("temperature_min", 34.0)), float(rules.get("temperature_max", 43.0))
    if "temperature" in checks:
        t = reading.temperature
        if t is None:
            return Verdict(False, "no temperature was measured")
        if not lo <= t <= hi:
            return Verdict(False, f"the temperature reading {t:.1f} °C is outside {lo}–{hi} °C")
        if t >= fever:
            again = reading.retemperature
            if not (rules.get("remeasure_after_rest", True) and again is not None):
                return Verdict(False, f"fever {t:.1f} °C (threshold {fever} °C)")
            if again >= fever:
                return Verdict(False, f"fever {t:.1f} °C, still {again:.1f} °C after rest")
    if "nat" in checks:
        if reading.nat_result == "positive":
            return Verdict(False, "positive nucleic-acid test")
        if reading.nat_result != "negative":
            return Verdict(False, "no nucleic-acid test result")
        if reading.nat_time is None:
            return Verdict(False, "the nucleic-acid test has no time")
        window = timedelta(hours=float(rules.get("nat_valid_hours", 48)))
        if at - reading.nat_time > window:
            hours = (at - reading.nat_time).total_seconds() / 3600
            limit = f"{window.total_seconds() / 3600:.0f} h"
            return Verdict(False, f"the nucleic-acid test is {hours:.0f} h old (limit {limit})")
    if "health_code" in checks:
        required = rules.get("health_code_required", "green")
        if not reading.health_code:
            return Verdict(False, "no health code was shown")
        if reading.health_code != required:
            return Verdict(False, f"{reading.health_code} health code")
    return Verdict(True)
