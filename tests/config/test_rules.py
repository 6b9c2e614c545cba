"""The typed rule file: defaults in one place, partial files laid over them, every wrong key a
clear configuration error when the settings are built."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config import reset_settings
from config.errors import ConfigurationError
from config.rules import Rules, load_rules
from config.settings import CONFIG_DIR


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_file_holds_exactly_the_defaults() -> None:
    assert load_rules(str(CONFIG_DIR / "rules.toml")) == Rules()


def test_a_partial_file_changes_only_what_it_names(tmp_path: Path) -> None:
    rules = load_rules(str(_write(tmp_path, "[delay.bus]\nlate_departure_min = 5\n")))
    assert rules.delay["bus"].late_departure_min == 5
    assert rules.delay["bus"].late_arrival_min == Rules().delay["bus"].late_arrival_min
    assert rules.delay["train"] == Rules().delay["train"]
    assert rules.screening == Rules().screening


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[screening]\nfevr_celsius = 38\n", r"screening\.fevr_celsius is not a known rule"),
        ("[tracking]\nstop_radius_km = 'far'\n", r"tracking\.stop_radius_km is wrong"),
        ("[screening]\narrival_sample_rate = 1.5\n", r"arrival_sample_rate is wrong"),
        (
            "[screening]\ndeparture_checks = ['x-ray']\n",
            r"departure_checks is wrong: .*unknown checks x-ray",
        ),
        ("[screening]\nfever_celsius = 50\n", r"screening is wrong: .*fever_celsius must lie"),
        ("[delay.boat]\nstopped_min = 3\n", r"delay\.boat\.late_departure_min is wrong"),
        ("[nonsense]\n", r"nonsense is not a known rule"),
        ("screening = [", r"is not valid TOML"),
    ],
)
def test_a_wrong_rule_file_stops_the_settings(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigurationError, match=message):
        reset_settings(rules_file=path)


def test_a_missing_rule_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        reset_settings(rules_file=tmp_path / "nope.toml")


def test_a_wrong_setting_names_its_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"http_port \(CONVOY_HTTP_PORT\)"):
        reset_settings(http_port=0)


@given(st.floats(min_value=34.5, max_value=42.5), st.floats(min_value=0, max_value=1))
def test_any_sensible_override_round_trips(fever: float, rate: float) -> None:
    rules = Rules.model_validate(
        {"screening": {"fever_celsius": fever, "arrival_sample_rate": rate}}
    )
    assert rules.screening.fever_celsius == fever
    assert Rules.model_validate(rules.model_dump()) == rules
