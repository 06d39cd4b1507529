"""Phone numbers: international and national formats, lookalikes."""

from __future__ import annotations

import pytest

from gateway.sensitive.detectors.phone import PhoneDetector

DETECTOR = PhoneDetector()


def found(text: str, detector: PhoneDetector = DETECTOR) -> list[tuple[str, float]]:
    return [(text[d.start:d.end], d.confidence) for d in detector.find(text)]


@pytest.mark.parametrize(("number", "confidence"), [
    ("+47 22 33 44 55", 0.8), ("+4722334455", 0.8), ("0047 22 33 44 55", 0.8), ("22 33 44 55", 0.6),
    ("412 34 567", 0.6), ("070-123 45 67", 0.6), ("+46 70 123 45 67", 0.8), ("08-123 456 78", 0.6),
    ("+45 20 12 34 56", 0.8), ("040 123 4567", 0.6), ("+358 40 123 4567", 0.8),
    ("+44 (0)20 7946 0958", 0.8), ("020 7946 0958", 0.6),
])
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
