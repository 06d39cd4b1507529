"""Phone numbers: international and national formats, lookalikes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.sensitive import latin1
from gateway.sensitive.detectors.phone import (
    _LOOKALIKE,
    LOOKALIKE_GROUPS,
    PhoneDetector,
)

DETECTOR = PhoneDetector()


def found(text: str, detector: PhoneDetector = DETECTOR) -> list[tuple[str, float]]:
    return [(text[d.start:d.end], d.confidence) for d in detector.find(text)]


NUMBERS = [
    ("+47 22 33 44 55", 0.8), ("+4722334455", 0.8), ("0047 22 33 44 55", 0.8), ("22 33 44 55", 0.6),
    ("412 34 567", 0.6), ("070-123 45 67", 0.6), ("+46 70 123 45 67", 0.8), ("08-123 456 78", 0.6),
    ("+45 20 12 34 56", 0.8), ("040 123 4567", 0.6), ("+358 40 123 4567", 0.8),
    ("+44 (0)20 7946 0958", 0.8), ("020 7946 0958", 0.6),
]
TRIGGER = latin1.Regex(DETECTOR.trigger)


@pytest.mark.parametrize(("number", "confidence"), NUMBERS)
def test_numbers_are_found(number: str, confidence: float) -> None:
    assert found(f"ring meg på {number}.") == [(number, confidence)]


@pytest.mark.parametrize("text", [
    "dato 2024-03-12", "dato 12-03-2024", "12.03.2024", "konto 1234.56.78903",
    "personnummer 900101-1234", "19900101-1234", "fnr 01019012345", "IMEI 356938035643809",
    "ordre #48213377", "ordre 48213377", "faktura nr. 48213377", "INV-2024-48213", "9001011234",
    "12 34 56", "+47 12 34 56 78",
])
def test_lookalikes_are_not_phones(text: str) -> None:
    assert found(text) == []


def test_regions_are_configurable() -> None:
    assert found("22 33 44 55", PhoneDetector(regions=("GB",))) == []
    assert found("020 7946 0958", PhoneDetector(regions=("GB",))) == [("020 7946 0958", 0.6)]
    with pytest.raises(ValueError, match="unknown phone region"):
        PhoneDetector(regions=("XX",))


@pytest.mark.parametrize(("number", "confidence"), NUMBERS)
def test_the_trigger_fires_at_every_number(number: str, confidence: float) -> None:
    text = f"ring meg på {number}."
    assert TRIGGER.search(latin1.encode(text)) is not None


@pytest.mark.parametrize("text", [
    "dato 2024-03-12.", "dato 12-03-2024 kl", "personnummer 900101-1234.", "19900101-1234", "fnr 01019012345.",
    "IMEI 356938035643809", "4111111111111111", "ordre 12345678901234",
])
def test_shapes_it_refuses_fire_no_trigger(text: str) -> None:
    assert TRIGGER.search(latin1.encode(text)) is None


def test_the_lookalike_groups_are_the_lookalike_shapes() -> None:
    for groups in LOOKALIKE_GROUPS:
        assert _LOOKALIKE.fullmatch("-".join("1" * n for n in groups))
    assert not _LOOKALIKE.fullmatch("1234-5678") and not _LOOKALIKE.fullmatch("12-34-56-78")


@given(st.lists(st.sampled_from(["+47", "+", "00", "0", "22", "33", "4455", "070", "123", "2024", "12", "(0)", "(",
                                 ")", " ", "  ", "-", "x", ".", ",", "٣", "#"]), max_size=14))
def test_wherever_a_number_is_found_the_trigger_fires_at_it(parts: list[str]) -> None:
    text = "".join(parts)
    data = latin1.encode(text)
    for d in DETECTOR.find(text):
        assert TRIGGER.search(data, max(0, d.start - 1), min(len(data), d.end + 2)) is not None


def test_a_candidate_is_read_as_in_the_whole_text_when_the_bounds_start_inside_it() -> None:
    # The whole text reads "2 010190123450047" (17 digits, no number), then "22 33 44 55".
    text = "2 010190123450047 22 33 44 55 664111111111111111"
    assert found(text) == [("22 33 44 55", 0.6)]
    for start in range(19):
        assert [(d.start, d.end) for d in DETECTOR.find(text, start)] == [(18, 29)]
    assert list(DETECTOR.find("ring +47 22 33 44 55", 8)) == []  # a value starting before the bounds
