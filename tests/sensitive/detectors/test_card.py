"""Payment card numbers: issuers, lengths, groupings, Luhn, IMEIs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.sensitive import latin1
from gateway.sensitive.detectors.card import CARD_NUMBER, CardDetector, luhn_ok

DETECTOR = CardDetector()


def found(text: str) -> list[str]:
    return [text[d.start:d.end] for d in DETECTOR.find(text)]


VALID = [
    "4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111",  # Visa
    "5555555555554444", "5105 1051 0510 5100",  # Mastercard
    "2221000000000009", "2720 9900 0000 0007",  # Mastercard 2-series
    "378282246310005", "3782 822463 10005", "3714-496353-98431",  # Amex 4-6-5
    "6011111111111117", "6011 0009 9013 9424",  # Discover
    "3530111333300000", "3566002020360505",  # JCB
    "30569309025904", "3056 930902 5904",  # Diners 14 digits 4-6-4
    "6200000000000005",  # UnionPay
    "4571 0000 0000 0001", "5019 7170 1010 3742",  # Visa/Dankort, Dankort
    "6759649826438453",  # Maestro
    "4000000000000000006", "4000 0000 0000 0000 006",  # Visa 19 digits
]
IMEIS = ["IMEI 356938035643809", "Serial 490154203237518", "imei: 867530012345671"]
TRIGGER = latin1.Regex(CARD_NUMBER, longest=True)  # as in the scanner's prefilter


@pytest.mark.parametrize("number", VALID)
def test_valid_numbers_are_found_whole(number: str) -> None:
    assert found(f"kortnummer {number}, takk") == [number]


@pytest.mark.parametrize("text", [
    "4111111111111112",  # Luhn fails
    "4111 1111 1111 1112",
    "41111 1111 111 1111",  # not the issuer's grouping
    "4111 1111-1111 1111",  # mixed separators
    "4111.1111.1111.1111",  # dots are not a card separator
    "1234567812345670",  # Luhn-valid, no issuer starts with 1
    "ordre 12.4111111111111111",  # part of a decimal
    "ID4111111111111111",  # part of a word
    "IBAN DK50 0040 0440 1162 43",  # an IBAN's BBAN, Luhn-valid or not
])
def test_invalid_or_lookalike_numbers_are_not_found(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize("text", IMEIS)  # TAC 35: a card prefix with no 15-digit card; 49: Visa, no 15 digits
def test_imeis_are_not_cards(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize("number", VALID)
def test_the_trigger_fires_at_every_card(number: str) -> None:
    text = f"kortnummer {number}, takk"
    assert TRIGGER.search(latin1.encode(text)) == (len("kortnummer"), len(text) - len(" takk"))  # before and after


@pytest.mark.parametrize("text", [*IMEIS, "12345678901234567890", "1234567812345670", "01019012345"])
def test_numbers_of_no_issuers_length_fire_no_trigger(text: str) -> None:
    assert TRIGGER.search(latin1.encode(text)) is None


@given(st.lists(st.sampled_from(["4111", "5555", "3782", "822463", "10005", "6011", "0", "12", "4", "1111", " ", "-",
                                 "x", ".", ","]), max_size=12))
def test_wherever_a_card_is_found_the_trigger_fires_at_it(parts: list[str]) -> None:
    text = "".join(parts)
    data = latin1.encode(text)
    for d in DETECTOR.find(text):
        assert TRIGGER.search(data, max(0, d.start - 1), d.end + 1) is not None


def test_a_run_is_read_from_its_start_when_the_bounds_start_inside_it() -> None:
    assert found("12 4111 1111 1111 1111") == []
    assert list(DETECTOR.find("12 4111 1111 1111 1111", 2)) == []  # its groups after "12 " are no run of their own
    assert [(d.start, d.end) for d in DETECTOR.find("x 4111 1111 1111 1111", 1)] == [(2, 21)]
    assert list(DETECTOR.find("x 4111 1111 1111 1111", 3)) == []  # a value starting before the bounds


@given(st.text(alphabet="0123456789", min_size=1, max_size=20))
def test_luhn_is_python_stdnums(digits: str) -> None:
    from stdnum import luhn

    assert luhn_ok(digits) == luhn.is_valid(digits)


def test_imei_word_rules_out_a_luhn_valid_15_digit_amex_shape() -> None:
    assert found("IMEI 378282246310005") == []
    assert found("Amex 378282246310005") == ["378282246310005"]


def test_a_cvv_or_year_after_the_number_is_not_part_of_it() -> None:
    assert found("4111 1111 1111 1111 123") == ["4111 1111 1111 1111"]


@given(st.text(alphabet="abc æøå.,\n", max_size=30), st.text(alphabet="abc æøå.,\n", max_size=30),
       st.integers(min_value=10**13, max_value=10**14 - 1))
def test_a_valid_number_in_text_is_found_at_its_span_and_a_broken_one_is_not(
        before: str, after: str, body: int) -> None:
    from stdnum import luhn

    digits = "4" + str(body)[:14]
    number = digits + luhn.calc_check_digit(digits)
    text = f"{before} {number} {after}"
    start = len(before) + 1
    assert [(d.start, d.end) for d in DETECTOR.find(text)] == [(start, start + 16)]
    broken = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert list(DETECTOR.find(f"{before} {broken} {after}")) == []
