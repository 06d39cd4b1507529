"""The scanner: prefilter windows, offsets, overlap resolution, the floor, the built-in detectors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.sensitive.base import Detection
from gateway.sensitive.scanner import DIGITS, Scanner, builtin_detectors, resolve


def D(kind: str, start: int, end: int, confidence: float) -> Detection:
    return Detection(kind, start, end, confidence)


def test_higher_confidence_wins_an_overlap() -> None:
    assert resolve([D("phone", 0, 10, 0.6), D("card", 2, 18, 0.9)]) == [D("card", 2, 18, 0.9)]


def test_on_a_tie_the_longer_span_wins_then_the_earlier() -> None:
    assert resolve([D("a", 0, 5, 0.8), D("b", 3, 12, 0.8)]) == [D("b", 3, 12, 0.8)]
    assert resolve([D("b", 4, 9, 0.8), D("a", 0, 5, 0.8)]) == [D("a", 0, 5, 0.8)]


def test_non_overlapping_detections_are_kept_in_order() -> None:
    found = resolve([D("b", 10, 12, 0.5), D("a", 0, 5, 0.9), D("c", 5, 10, 0.7)])
    assert [d.kind for d in found] == ["a", "c", "b"]


def test_the_floor_drops_before_resolving() -> None:
    # A weak detection under the floor does not hide anything either.
    assert resolve([D("weak", 0, 20, 0.3), D("x", 2, 4, 0.6)], floor=0.5) == [D("x", 2, 4, 0.6)]
    with pytest.raises(ValueError, match="floor"):
        Scanner([], floor=1.5)


class Digits6:
    """A toy windowed detector: every run of exactly six digits."""

    kinds: ClassVar[tuple[str, ...]] = ("six",)
    trigger: ClassVar[str | None] = DIGITS
    calls: ClassVar[list[str]] = []

    def find(self, text: str) -> Iterator[Detection]:
        import re

        Digits6.calls.append(text)
        for m in re.finditer(r"(?<!\d)\d{6}(?!\d)", text):
            yield Detection("six", m.start(), m.end(), 0.7)


def test_windowed_detectors_see_windows_only_and_offsets_are_shifted() -> None:
    Digits6.calls.clear()
    text = "x " * 500 + "kode 123456 her" + " y" * 500
    found = Scanner([Digits6()]).scan(text)
    assert [(text[d.start:d.end]) for d in found] == ["123456"]
    assert len(Digits6.calls) == 1 and len(Digits6.calls[0]) < 300
    Digits6.calls.clear()
    assert Scanner([Digits6()]).scan("no digits at all " * 100) == []
    assert Digits6.calls == []


def test_custom_like_detectors_without_trigger_run_on_the_whole_text() -> None:
    from gateway.sensitive.custom import CustomDetector, Pattern

    detector = CustomDetector("ticket", [Pattern(r"TCK-[A-Z]{4}", 0.8)])
    text = "a " * 300 + "TCK-ABCD" + " b" * 300
    assert [(d.kind, text[d.start:d.end]) for d in Scanner([detector]).scan(text)] == [("ticket", "TCK-ABCD")]


def test_builtin_detectors_include_the_four_of_this_package() -> None:
    kinds = Scanner(builtin_detectors()).kinds
    assert {"card", "iban", "email", "phone"} <= set(kinds)


def test_all_detectors_together() -> None:
    text = ("Kort 4111 1111 1111 1111, IBAN NO93 8601 1117 947, ring +47 22 33 44 55 "
            "eller skriv til kari@example.no. IMEI 356938035643809, konto 1234.56.78903.")
    found = [(d.kind, text[d.start:d.end]) for d in Scanner(builtin_detectors()).scan(text)]
    assert found == [("card", "4111 1111 1111 1111"), ("iban", "NO93 8601 1117 947"),
                     ("phone", "+47 22 33 44 55"), ("email", "kari@example.no")]


WORDS = st.sampled_from(["hei", "takk", "ordre", "kl.", "12:30", "2024", "på", "æøå", "€", "\n", "sak"])
VALUES = st.sampled_from(["4111 1111 1111 1111", "NO93 8601 1117 947", "+47 22 33 44 55", "ola@example.no",
                          "5555555555554444", "070-123 45 67"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(WORDS, VALUES), max_size=40))
def test_windows_give_what_the_whole_text_gives(parts: list[str]) -> None:
    detectors = builtin_detectors()
    text = " ".join(parts)
    whole = resolve((d for det in detectors for d in det.find(text)), 0.5)
    assert Scanner(detectors).scan(text) == whole
