"""Plate numbers: every valid plate accepted however written, the validator total."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.errors import ValidationError
from models.permits.plates import normalise_plate, plate_problem, validate_plate

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
ALNUM = LETTERS + "0123456789"
DIGITS = "0123456789"


def chars(alphabet: str, n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=n, max_size=n)


ordinary = st.builds(
    lambda p, c, body, last: p + c + body + last,
    st.sampled_from(PROVINCES),
    st.sampled_from(LETTERS),
    chars(ALNUM, 4),
    st.sampled_from([*ALNUM, "挂", "学"]),
)
small_nev = st.builds(
    lambda p, c, kind, x, digits: p + c + kind + x + digits,
    st.sampled_from(PROVINCES),
    st.sampled_from(LETTERS),
    st.sampled_from("DF"),
    st.sampled_from(ALNUM),
    chars(DIGITS, 4),
)
large_nev = st.builds(
    lambda p, c, digits, kind: p + c + digits + kind,
    st.sampled_from(PROVINCES),
    st.sampled_from(LETTERS),
    chars(DIGITS, 5),
    st.sampled_from("DF"),
)
valid_plates = st.one_of(ordinary, small_nev, large_nev)


@given(valid_plates, st.sampled_from(["", " ", "·", "-"]), st.booleans())
def test_valid_plates_are_accepted_however_written(plate: str, sep: str, lower: bool) -> None:
    written = plate[:2] + sep + plate[2:]
    written = written.lower() if lower else written
    assert validate_plate(written) == plate
    assert len(plate) in (7, 8)


@given(valid_plates, st.integers(min_value=2), st.sampled_from("IO"))
def test_plates_never_have_i_or_o(plate: str, pos: int, letter: str) -> None:
    i = 2 + pos % (len(plate) - 2)
    assert plate_problem(plate[:i] + letter + plate[i + 1 :]) is not None


@given(st.text(max_size=12))
def test_validator_is_total_and_agrees_with_itself(text: str) -> None:
    plate = normalise_plate(text)
    problem = plate_problem(plate)
    if problem is None:
        assert validate_plate(text) == plate
    else:
        with pytest.raises(
            ValidationError, match=r"^The plate number .* is not valid: .+\.$"
        ) as exc:
            validate_plate(text)
        assert len(str(exc.value).splitlines()) == 1  # one line on the terminal


@pytest.mark.parametrize(
    "plate",
    ["浙B1234", "浙B123456789", "B123456", "浙12345B", "浙BI2345", "浙B1234D5",
     "浙B12345G", "浙BDO1234", "A浙12345", ""],
)  # fmt: skip
def test_invalid_plates_are_refused(plate: str) -> None:
    with pytest.raises(ValidationError):
        validate_plate(plate)


def test_known_plates() -> None:
    assert validate_plate("浙B·D12345") == "浙BD12345"  # small new-energy
    assert validate_plate("粤B 12345F") == "粤B12345F"  # large new-energy
    assert validate_plate("浙ｂ1234挂") == "浙B1234挂"  # trailer, full-width letter
