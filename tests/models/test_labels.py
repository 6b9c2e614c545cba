"""The one table of labels and translations: complete in both locales, lookups fall back."""

from __future__ import annotations

import pytest

from models.labels import DOMAINS, FALLBACK, LOCALES, MAPS, is_locale, label, labels


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_every_domain_has_the_same_keys_in_every_locale(domain: str) -> None:
    table = DOMAINS[domain]
    assert set(table) == set(LOCALES)
    keys = {locale: set(table[locale]) for locale in LOCALES}
    assert all(found == keys[FALLBACK] for found in keys.values()), keys


def test_label_fills_in_parameters_in_the_locale() -> None:
    assert label("maps", "legend", "zh-CN") == "图例"
    assert label("maps", "late", "en", m=5) == "5 min late"
    assert label("maps", "late", "zh-CN", m=5) == "晚 5 分钟"


def test_label_falls_back_to_english_then_to_the_key() -> None:
    assert label("maps", "legend", "fr") == MAPS["en"]["legend"]
    assert label("maps", "no.such.key", "zh-CN") == "no.such.key"
    assert labels("maps", "fr") is MAPS["en"]


def test_locales_and_domains_are_checked() -> None:
    assert is_locale("zh-CN") and is_locale("en") and not is_locale("fr")
    with pytest.raises(KeyError, match="no label domain"):
        label("nowhere", "legend", "en")
