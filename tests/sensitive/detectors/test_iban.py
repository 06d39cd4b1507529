"""IBANs: mod 97, country lengths, national checks, printed forms."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import iban
from stdnum.iso7064 import mod_97_10

from gateway.sensitive.detectors.iban import IbanDetector, stdnum_valid

DETECTOR = IbanDetector()


def found(text: str) -> list[str]:
    return [text[d.start:d.end] for d in DETECTOR.find(text)]


@pytest.mark.parametrize("number", [
    "NO9386011117947", "NO93 8601 1117 947", "SE45 5000 0000 0583 9825 7466", "DK50 0040 0440 1162 43",
    "FI21 1234 5600 0007 85", "GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432", "DE89370400440532013000",
    "no93 8601 1117 947",
])
def test_valid_ibans_are_found(number: str) -> None:
    assert found(f"IBAN: {number}. Takk") == [number]


@pytest.mark.parametrize("text", [
    "NO9486011117947",  # mod 97 fails
    "NO93 8601 1117 9471",  # wrong length for Norway
    "NO93 86011 117 947",  # not groups of four
    "XX93 8601 1117 947",  # no such country
])
def test_invalid_ibans_are_not_found(text: str) -> None:
    assert found(text) == []


def test_mod97_right_but_the_norwegian_account_check_digit_wrong_is_not_found() -> None:
    bban = "86011117948"
    number = "NO" + iban.calc_check_digits("NO00" + bban) + bban
    assert mod_97_10.is_valid(number[4:] + number[:4])
    assert found(f"IBAN {number}") == []


def test_a_following_group_of_four_is_left_out() -> None:
    assert found("NO93 8601 1117 947 2024") == ["NO93 8601 1117 947"]


@given(st.text(alphabet="ab .,", max_size=20), st.text(alphabet="ab .,", max_size=20))
def test_embedded_valid_iban_found_at_its_span_broken_not(before: str, after: str) -> None:
    text = f"{before} DE89 3704 0044 0532 0130 00 {after}"
    start = len(before) + 1
    assert [(d.start, d.end) for d in DETECTOR.find(text)] == [(start, start + 27)]
    assert found(f"{before} DE88 3704 0044 0532 0130 00 {after}") == []


@given(st.sampled_from(["NO", "SE", "DK", "FI", "DE", "GB", "BE", "ES", "ME", "FR", "MT", "NL", "XX"]),
       st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=8, max_size=30),
       st.booleans(), st.booleans(), st.booleans())
def test_the_cached_check_is_python_stdnums(country: str, bban: str, digits_only: bool, lower: bool,
                                            grouped: bool) -> None:
    if digits_only:
        bban = "".join(c if c.isdigit() else str(ord(c) % 10) for c in bban)
    number = country + mod_97_10.calc_check_digits(bban + country) + bban  # mod 97 right
    if lower:
        number = number.lower()
    if grouped:
        number = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    assert stdnum_valid(number) == iban.is_valid(number)
    assert stdnum_valid("NO9386011117947") and stdnum_valid("DE89 3704 0044 0532 0130 00")
