"""The rule file (``config/rules.toml``) as typed models: screening, speed profiles, delay
thresholds, tracking tolerances, escort task times and the service desk's target.

A rule file needs to hold only what it changes: its tables are laid over the defaults, key by
key (``[delay.bus]`` with one line changes that one threshold of buses).

Every default lives here and only here. A key the models do not know, or a value of the wrong
type, is a :class:`~config.errors.ConfigurationError` naming the key, when the settings are
built (at start-up), not a silent fallback later.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from config.errors import ConfigurationError

Check = Literal["temperature", "nat", "health_code"]
ALL_CHECKS: tuple[Check, ...] = ("temperature", "nat", "health_code")
SPOT_CHECKS: tuple[Check, ...] = ("temperature", "health_code")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScreeningRules(_Strict):
    """Health screening before departure and the spot checks on arrival."""

    fever_celsius: float = Field(37.3, description="A temperature at or above this is a fever.")
    temperature_min: float = Field(34.0, description="Lowest plausible body temperature.")
    temperature_max: float = Field(43.0, description="Highest plausible body temperature.")
    remeasure_after_rest: bool = Field(True, description="One re-measurement after rest.")
    nat_valid_hours: float = Field(48, gt=0, description="A negative test must be this recent.")
    health_code_required: Literal["green", "yellow", "red"] = "green"
    arrival_sample_rate: float = Field(0.1, ge=0, le=1, description="Share spot-checked.")
    departure_checks: tuple[str, ...] = ALL_CHECKS
    arrival_checks: tuple[str, ...] = SPOT_CHECKS

    @field_validator("departure_checks", "arrival_checks")
    @classmethod
    def _known_checks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(ALL_CHECKS))
        if unknown:
            raise ValueError(
                f"names unknown checks {', '.join(unknown)}; use {', '.join(ALL_CHECKS)}"
            )
        return value

    @model_validator(mode="after")
    def _range(self) -> ScreeningRules:
        if not self.temperature_min < self.fever_celsius < self.temperature_max:
            raise ValueError("fever_celsius must lie between temperature_min and temperature_max")
        return self


class SpeedProfile(_Strict):
    """How fast a mode travels; ``road_factor`` turns the geodesic distance into the travelled."""

    cruise_kmh: float = Field(gt=0)
    road_factor: float = Field(1.0, ge=1.0)
    waypoint_dwell_min: float = Field(0.0, ge=0)


class DelayThresholds(_Strict):
    """When a convoy of a mode counts as late, silent, stopped or off its route."""

    late_departure_min: float = Field(gt=0)
    late_arrival_min: float = Field(gt=0)
    stale_position_min: float = Field(gt=0)
    stopped_min: float = Field(gt=0)
    corridor_km: float = Field(gt=0)


class TrackingRules(_Strict):
    """Tolerances of position reports and the ETA blend."""

    future_tolerance_min: float = Field(10, ge=0, description="A time this far ahead is refused.")
    stop_radius_km: float = Field(0.5, gt=0, description="Moving less than this is stopped.")
    arrival_radius_km: float = Field(3.0, gt=0, description="Stopping this near is no alert.")
    off_route_clear_ratio: float = Field(0.8, gt=0, le=1)
    observed_window_min: float = Field(60, gt=0)
    observed_speed_weight: float = Field(0.5, ge=0, le=1)


class TaskRules(_Strict):
    """When escorts are asked to do the steps around departure and arrival (minutes)."""

    muster_before_departure_min: float = Field(180, ge=0)
    screening_before_departure_min: float = Field(120, ge=0)
    spot_check_after_arrival_min: float = Field(20, ge=0)


class DeskRules(_Strict):
    """The service desk's same-day target: a request is answered (resolved or passed on) by the
    end of the local day it was raised; raised at or after ``cutoff_hour``, by the end of the
    next day. The monitor alerts the liaison officer ``at_risk_hours`` before the target."""

    cutoff_hour: int = Field(18, ge=0, le=24, description="Raised from this hour: next day.")
    at_risk_hours: float = Field(2.0, gt=0, description="Alert this long before the target.")


def _default_speed() -> dict[str, SpeedProfile]:
    return {
        "bus": SpeedProfile(cruise_kmh=80, road_factor=1.25, waypoint_dwell_min=20),
        "train": SpeedProfile(cruise_kmh=110, road_factor=1.15, waypoint_dwell_min=5),
        "flight": SpeedProfile(cruise_kmh=650, road_factor=1.05, waypoint_dwell_min=0),
    }


def _default_delay() -> dict[str, DelayThresholds]:
    def d(dep: float, arr: float, stale: float, stop: float, km: float) -> DelayThresholds:
        return DelayThresholds(
            late_departure_min=dep, late_arrival_min=arr, stale_position_min=stale,
            stopped_min=stop, corridor_km=km,
        )  # fmt: skip

    return {"bus": d(30, 60, 20, 45, 15), "train": d(15, 30, 30, 60, 10),
            "flight": d(30, 30, 60, 120, 50)}  # fmt: skip


class Rules(_Strict):
    """The whole rule file."""

    screening: ScreeningRules = ScreeningRules()
    speed: dict[str, SpeedProfile] = Field(default_factory=_default_speed)
    delay: dict[str, DelayThresholds] = Field(default_factory=_default_delay)
    tracking: TrackingRules = TrackingRules()
    tasks: TaskRules = TaskRules()
    desk: DeskRules = DeskRules()


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, table by table (a file may set only what it changes)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "the file"


@lru_cache(maxsize=8)
def load_rules(path: str) -> Rules:
    """Read and check a rule file; every problem is one sentence naming the key."""
    file = Path(path)
    try:
        with file.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigurationError(f"The rule file {file} does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"The rule file {file} is not valid TOML: {exc}.") from None
    try:
        return Rules.model_validate(_merged(Rules().model_dump(), raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = _where(first["loc"])
        if first["type"] == "extra_forbidden":
            reason = "is not a known rule (a typo?)"
        else:
            reason = f"is wrong: {first['msg']}"
        more = f" ({exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise ConfigurationError(f"In the rule file {file}, {key} {reason}{more}.") from None
