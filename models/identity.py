"""Resident ID numbers (GB 11643-1999) and mainland mobile numbers: checks, masking, synthesis.

The checksum is table-driven for speed; python-stdnum's ``cn.ric`` is the reference the tests
compare it against.
"""

from __future__ import annotations

import random
import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
# Province-level codes of GB/T 2260 (the first two digits of every resident ID).
_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)


def id_check_char(first17: str) -> str:
    """The 18th character of a resident ID for its first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def normalise_id(value: object) -> str:
    return str(value or "").strip().upper().replace(" ", "")


def id_problem(value: str, today: date | None = None) -> str | None:
    """None when ``value`` is a valid 18-character resident ID; otherwise the reason, in words."""
    if len(value) != 18:
        return f"an ID number has 18 characters, this one has {len(value)}"
    if not _ID_RE.match(value):
        return "an ID number is 17 digits followed by a digit or X"
    if value[:2] not in _PROVINCES:
        return "the ID number does not start with a province code"
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "the birth date inside the ID number is not a real date"
    today = today or date.today()
    if born > today or born.year < 1900:
        return "the birth date inside the ID number is not plausible"
    if id_check_char(value[:17]) != value[17]:
        return "the check digit of the ID number is wrong"
    return None


def is_mobile(value: str) -> bool:
    """A mainland China mobile number (11 digits starting 13–19)."""
    return bool(_MOBILE_RE.match(value))


def normalise_phone(value: object) -> str:
    text = re.sub(r"[\s\-()]", "", str(value or ""))
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    return text


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


def synthetic_id(rng: random.Random, region: str, born: date | None = None) -> str:
    """A synthetic resident ID with a valid checksum for a 6-digit region code (demo data)."""
    born = born or date(rng.randint(1965, 2002), rng.randint(1, 12), rng.randint(1, 28))
    first17 = f"{region[:6]:0<6}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return first17 + id_check_char(first17)


# Mobile prefixes in use (a synthetic number must pass the same checks as a real one).
_MOBILE_PREFIXES = (*range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158, 159,
                    *range(180, 190), 166, 176, 177, 198, 199)  # fmt: skip


def synthetic_mobile(rng: random.Random) -> str:
    return f"{rng.choice(_MOBILE_PREFIXES)}{rng.randint(0, 99_999_999):08d}"
