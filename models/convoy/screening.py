"""Health screening rules (temperature, nucleic-acid test, health code) as plain functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from config.rules import ALL_CHECKS, ScreeningRules
from models.errors import ConfigurationError, ValidationError

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


def screening_rules(rules: ScreeningRules | Mapping[str, Any]) -> ScreeningRules:
    """The typed ``[screening]`` rules (a mapping is checked, its defaults from config.rules)."""
    if isinstance(rules, ScreeningRules):
        return rules
    try:
        return ScreeningRules.model_validate(dict(rules))
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise ConfigurationError(
            f"The rule screening.{key} is wrong: {first['msg']}.".replace("screening. ", "")
        ) from None


def checks_for(rules: ScreeningRules | Mapping[str, Any], checkpoint: str) -> tuple[str, ...]:
    """The checks applied at a checkpoint: ``departure_checks`` / ``arrival_checks`` in the
    rule file (by default all three before departure, temperature + health code on arrival)."""
    r = screening_rules(rules)
    return tuple(r.arrival_checks if checkpoint == "arrival" else r.departure_checks)


def evaluate(
    reading: Reading,
    rules: ScreeningRules | Mapping[str, Any],
    at: datetime,
    checks: tuple[str, ...] = ALL_CHECKS,
) -> Verdict:
    """Apply the screening rules; the first failing check gives the reason."""
    r = screening_rules(rules)
    fever, lo, hi = r.fever_celsius, r.temperature_min, r.temperature_max
    if "temperature" in checks:
        t = reading.temperature
        if t is None:
            return Verdict(False, "no temperature was measured")
        if not lo <= t <= hi:
            return Verdict(False, f"the temperature reading {t:.1f} °C is outside {lo}–{hi} °C")
        if t >= fever:
            again = reading.retemperature
            if not (r.remeasure_after_rest and again is not None):
                return Verdict(False, f"fever {t:.1f} °C (threshold {fever} °C)")
            if not lo <= again <= hi:
                return Verdict(False, f"the re-measurement {again:.1f} °C is outside {lo}–{hi} °C")
            if again >= fever:
                return Verdict(False, f"fever {t:.1f} °C, still {again:.1f} °C after rest")
    if "nat" in checks:
        if reading.nat_result == "positive":
            return Verdict(False, "positive nucleic-acid test")
        if reading.nat_result != "negative":
            return Verdict(False, "no nucleic-acid test result")
        if reading.nat_time is None:
            return Verdict(False, "the nucleic-acid test has no time")
        if reading.nat_time > at + timedelta(minutes=5):
            return Verdict(False, "the nucleic-acid test time is later than the screening")
        window = timedelta(hours=r.nat_valid_hours)
        if at - reading.nat_time > window:
            hours = (at - reading.nat_time).total_seconds() / 3600
            limit = f"{window.total_seconds() / 3600:.0f} h"
            return Verdict(False, f"the nucleic-acid test is {hours:.0f} h old (limit {limit})")
    if "health_code" in checks:
        required = r.health_code_required
        if not reading.health_code:
            return Verdict(False, "no health code was shown")
        if reading.health_code != required:
            return Verdict(False, f"{reading.health_code} health code")
    return Verdict(True)


def entry_followup(session: Any, convoy_id: int) -> list[dict[str, Any]]:
    """Passengers still in custody (boarded or before) whose entry application / health-code
    enrolment is missing: seat, masked name and phone, employer — the escorts' call list."""
    from sqlalchemy import select

    from models.convoy.lifecycle import Custody
    from models.convoy.tables import Passenger
    from models.intake.identity import mask_name, mask_phone

    p = Passenger.__table__  # type: ignore[attr-defined]
    waiting = [
        Custody.REGISTERED.value, Custody.VERIFIED.value, Custody.CLEARED.value,
        Custody.BOARDED.value,
    ]  # fmt: skip
    rows = session.execute(
        select(p.c.seat, p.c.name, p.c.phone, p.c.employer)
        .where(p.c.convoy_id == convoy_id, p.c.custody.in_(waiting), p.c.entry_applied.is_(False))
        .order_by(p.c.seat)
    ).all()
    return [
        {"seat": seat, "name": mask_name(name), "phone": mask_phone(phone), "employer": employer}
        for seat, name, phone, employer in rows
    ]
