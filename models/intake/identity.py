"""Resident ID numbers (GB 11643-1999) and mainland mobile numbers: checks, masking, synthesis.

The one implementation of these checks (the manifest import, registration form, pre-verification
and vehicle passes all call it). They are the fast path (a few µs a row); python-stdnum's
``cn.ric`` and phonenumbers are the references the tests compare them against.
"""

from __future__ import annotations

import random
import re
import unicodedata
from datetime import date
from functools import lru_cache
from typing import Any

from phonenumbers import PhoneMetadata

_CHECK = "10X98765432"
_ID_RE = re.compile(r"\d{17}[\dX]", re.ASCII)
# Province-level codes of GB/T 2260 (the first two digits of every resident ID).
_PROVINCES = frozenset(f"{n}" for n in (11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36,
    37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82))  # fmt: skip
# Mainland mobile numbers: the national-number pattern of phonenumbers' own CN metadata,
# compiled once (phonenumbers.is_valid_number applies the same pattern, ~17 µs a call).
_CN_MOBILE: str = str(PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern)  # type: ignore[union-attr]
_MOBILE_RE = re.compile(_CN_MOBILE, re.ASCII)
_PHONE_JUNK = re.compile(r"[\s\-()（）]")


def id_check_char(first17: str) -> str:
    """The 18th character of a resident ID: Σ dᵢ·2^(17−i) mod 11 reads the 17 digits in base
    13 (13 ≡ 2 mod 11), so one C-level ``int(…, 13)`` does the weighted sum."""
    return _CHECK[(2 * int(first17, 13)) % 11]


class _Dates:
    """Calendar dates from 1900-01-01 to the end of the newest year asked for, as 'YYYYMMDD'
    strings, built once (again only for a later year): checks dated on different days (a
    campaign's convoys, in threads side by side) share it, and compare with the day apart."""

    def __init__(self) -> None:
        self.year = 0
        self.valid: frozenset[str] = frozenset()

    def through(self, year: int) -> frozenset[str]:
        if year > self.year:
            out = []
            for y in range(1900, year + 1):
                leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
                for m, days in enumerate((31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30,
                                          31, 30, 31), start=1):  # fmt: skip
                    prefix = f"{y}{m:02d}"
                    out += [f"{prefix}{d:02d}" for d in range(1, days + 1)]
            self.valid, self.year = frozenset(out), year
        return self.valid


@lru_cache(maxsize=64)
def _ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


_DATES = _Dates()


def normalise_id(value: Any) -> str:
    text = str(value or "").strip()
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.replace(" ", "").upper()


def id_problem(value: str, today: date | None = None) -> str | None:
    """None when ``value`` is a valid resident ID (GB 11643); otherwise a key of
    ``models.intake.manifest.REASONS`` (id_length, id_format, id_province, id_date,
    id_date_implausible, id_check)."""
    if len(value) != 18:
        return "id_length"
    if _ID_RE.fullmatch(value) is None:
        return "id_format"
    if value[:2] not in _PROVINCES:
        return "id_province"
    today = today or date.today()
    born = value[6:14]
    if born not in _DATES.through(today.year) or born > _ymd(today):
        try:
            date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        except ValueError:
            return "id_date"
        return "id_date_implausible"
    if _CHECK[(2 * int(value[:17], 13)) % 11] != value[17]:
        return "id_check"
    return None


def normalise_phone(value: Any) -> str:
    text = str(value or "").strip()
    if len(text) == 11 and text.isascii() and text.isdigit():
        return text
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = _PHONE_JUNK.sub("", text)
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    return text


def is_mobile(value: str) -> bool:
    """A mainland China mobile number (phonenumbers' CN mobile pattern)."""
    return _MOBILE_RE.fullmatch(value) is not None


def mask_id(value: str) -> str:
    """'330225199001011234' → '3302**********1234' (never reveal the middle)."""
    value = value or ""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """'13812345678' → '138****5678'."""
    value = value or ""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """'张三丰' → '张**' (for notifications that must not carry full names)."""
    return value[:1] + "*" * (len(value) - 1) if value else ""


def synthetic_id(
    rng: random.Random, region: str, born: date | None = None, seqs: range | None = None
) -> str:
    """A synthetic resident ID with a valid checksum for a 6-digit region code (demo data), its
    three sequence digits drawn from ``seqs`` (all of 000 to 999 by default)."""
    born = born or date(rng.randint(1965, 2002), rng.randint(1, 12), rng.randint(1, 28))
    seq = rng.randint(0, 999) if seqs is None else rng.choice(seqs)
    first17 = f"{region[:6]:0<6}{born:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


# Mobile prefixes in use (a synthetic number must pass the same checks as a real one).
_MOBILE_PREFIXES = (*range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158, 159,
                    *range(180, 190), 166, 176, 177, 198, 199)  # fmt: skip


def synthetic_mobile(rng: random.Random) -> str:
    return f"{rng.choice(_MOBILE_PREFIXES)}{rng.randint(0, 99_999_999):08d}"


_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_MOBILE_LIKE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_LONG_NUMBER = re.compile(r"\d{11}")  # both need 11 digits in a row
_DIGIT_RUN = re.compile(r"\d{7,}[Xx]?")


def scrub(text: str) -> str:
    """``text`` with anything shaped like a resident ID number or mobile number masked."""
    if not text or not _LONG_NUMBER.search(text):
        return text or ""
    text = _ID_LIKE.sub(lambda m: mask_id(m.group(0)), text or "")
    return _MOBILE_LIKE.sub(lambda m: mask_phone(m.group(0)), text)


ECHO_LIMIT = 40


def _mask_run(run: str) -> str:
    return mask_phone(run) if len(run) == 11 else mask_id(run)


def echo(value: Any, kind: str = "", limit: int = ECHO_LIMIT) -> str:
    """A value as a message or an error report may show it — the one masking rule.

    ``kind`` "id_number" masks like an ID number (``3302**********1234``), "phone" like a mobile
    (``138****5678``); any other text has its runs of seven or more digits masked (an 11-digit
    run as a mobile, others as an ID number). The result is cut to ``limit`` characters.
    """
    text = str(value if value is not None else "")
    if kind == "id_number":
        text = mask_id(text)
    elif kind == "phone":
        text = mask_phone(text)
    elif any(c.isdigit() for c in text):
        text = _DIGIT_RUN.sub(lambda m: _mask_run(m.group(0)), text)
    if len(text) > limit:
        text = f"{text[: limit - 1]}… ({len(text):,} characters)"
    return text
