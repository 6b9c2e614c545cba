"""Chinese plate numbers: normalising what was typed, and saying in words what is wrong."""

from __future__ import annotations

import re
import unicodedata

from models.errors import ValidationError

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_L = "A-HJ-NP-Z"  # letters on plates: no I and no O
_PLATE_PATTERN = (
    rf"^[{_PROVINCES}][{_L}]"
    r"(?:"
    rf"[{_L}0-9]{{4}}[{_L}0-9挂学警港澳]"  # ordinary (blue/yellow) plates, trailers …挂
    rf"|[A-HJK][{_L}0-9]\d{{4}}"  # small new-energy: D/F (and since 2021 A–K), then 5
    r"|\d{5}[DF]"  # large new-energy: 5 digits, then D/F
    r")$"
)
PLATE_RE = re.compile(_PLATE_PATTERN)
"""A Chinese plate, normalised: province character, city letter, then five characters
(ordinary plates, ``挂`` for trailers) or six (new-energy plates, 8 characters in all)."""


def normalise_plate(value: object) -> str:
    """'浙b·12345' → '浙B12345': half-width, upper case, no spaces or separators."""
    text = unicodedata.normalize("NFKC", str(value or "")).upper()
    return re.sub(r"[\s·•.\-]", "", text)


def plate_problem(value: str) -> str | None:
    """None when ``value`` (normalised) is a valid plate; otherwise the reason, in words."""
    if not value:
        return "a plate number is required"
    if value[0] not in _PROVINCES:
        return "a plate starts with a province character such as 浙"
    if len(value) not in (7, 8):
        return f"a plate has 7 characters (8 for new-energy vehicles), this one has {len(value)}"
    if "I" in value or "O" in value:
        return "plates never use the letters I and O"
    if not PLATE_RE.match(value):
        if len(value) == 8:
            return (
                "a new-energy plate is a letter, then D or F followed by five characters "
                "(small vehicles) or five digits followed by D or F (large vehicles)"
            )
        return "after the province a plate has a letter and five letters or digits"
    return None


def validate_plate(value: object) -> str:
    """The normalised plate, or :class:`ValidationError` saying what is wrong."""
    if isinstance(value, str) and PLATE_RE.match(value):
        return value  # normalised already (the common case of a list)
    plate = normalise_plate(value)
    problem = plate_problem(plate)
    if problem:
        raise ValidationError(f"The plate number {str(value)!r} is not valid: {problem}.")
    return plate
