"""The scanner: prefilter windows, offsets, overlap resolution, the floor, the built-in detectors."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import ClassVar, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.sensitive.base import Detection, Detector
from gateway.sensitive.scanner import DIGITS, Scanner, builtin_detectors, resolve


def D(kind: str, start: int, end: int, confidence: float) -> Detection:
    return Detection(kind, start, end, confidence)


def greedy(detections: list[Detection], floor: float = 0.0) -> list[Detection]:
    """``resolve`` as its docstring says it, over all detections at once."""
    kept: list[Detection] = []
    for d in sorted((d for d in detections if d.confidence >= floor and d.end > d.start),
                    key=lambda d: (-d.confidence, d.start - d.end, d.start)):
        if all(d.end <= k.start or k.end <= d.start for k in kept):
            kept.append(d)
    return sorted(kept, key=lambda d: d.start)


@given(st.lists(st.builds(D, st.sampled_from("abc"), st.integers(0, 40), st.integers(0, 8),
                          st.sampled_from([0.3, 0.5, 0.6, 0.9])).map(lambda d: D(d.kind, d.start, d.start + d.end,
                                                                                   d.confidence)), max_size=14),
       st.sampled_from([0.0, 0.5]))
def test_resolving_group_by_group_is_resolving_all_at_once(detections: list[Detection], floor: float) -> None:
    assert resolve(detections, floor) == greedy(detections, floor)


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


WORDS = st.sampled_from(["hei", "takk", "ordre", "kl.", "12:30", "2024", "på", "æøå", "€", "\n", "sak", "IMEI",
                         "fnr", "CPR-nr.", "finsk personnummer", "konto", "#", "@", "-", ".", "(", "+", "0", "1234",
                         "2024-03-12", "12-03-2024", "٣", "00", "  "])
VALUES = st.sampled_from(["4111 1111 1111 1111", "NO93 8601 1117 947", "+47 22 33 44 55", "ola@example.no",
                          "5555555555554444", "070-123 45 67", "180180-0837", "08104000569", "131052-308T",
                          "19900101-1239", "MT84 MALT 0110 0001 2345 MTLC AST0 01S", "(22) 33 44 55",
                          "356938035643809", "mt84malt011000012345mtlcast001s", "010190\xa012345",
                          "3782 822463 10005", "0047 22 33 44 55 66", "+358 40 123 4567", "٢٢ ٣٣ ٤٤ ٥٥"])
JOINS = st.sampled_from([" ", " ", "", "\n", ", ", ". "])
DETECTORS = builtin_detectors()
SCANNER = Scanner(DETECTORS)


def _whole(text: str) -> list[Detection]:
    return resolve((d for det in DETECTORS for d in det.find(text)), 0.5)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(WORDS, VALUES), JOINS), max_size=40))
def test_windows_give_what_the_whole_text_gives(parts: list[tuple[str, str]]) -> None:
    # Values glued to each other and to words too: a window's edge must never change a decision.
    text = "".join(part + join for part, join in parts)
    assert SCANNER.scan(text) == _whole(text)


def test_windows_give_what_the_whole_text_gives_on_glued_values() -> None:
    import random

    rnd = random.Random(5)
    pieces = ["4111 1111 1111 1111", "4111111111111111", "NO93 8601 1117 947", "no9386011117947", "ola@example.no",
              "MT84 MALT 0110 0001 2345 MTLC AST0 01S", "GB29 NWBK 6016 1331 9268 19", "+47 (22)  33 44 55",
              "010190-1234", "01019012345", "131052-308T", "010594Y9032", "19900101-1239", "IMEI ", "cpr ", "x",
              "henkilötunnus ", " ", "-", ".", "/", "@", "(", ")", "+", ",", "0", "12", "æ", "\n", "ordre #",
              "356938035643809", "3782 822463 10005", "0047 22 33 44 55 66", "2024-03-12", "12-03-2024", "٣", "€"]
    for _ in range(1500):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 25)))
        assert SCANNER.scan(text) == _whole(text), text


@pytest.mark.parametrize("text", [
    # Found by glueing values: a window that starts inside what the whole text reads as one candidate,
    # one that ends inside a run longer than WIDEN, and digits of another script after a value.
    "2 010190123450047 22 33 44 55 664111111111111111)564111-1111-1111-11112024-03-12@6011 0009 9013 9424",
    ("070-123 45 67IBAN 6011 0009 9013 9424411111111111111156+4722334455+47 (22)  33 44 55fnr +358 40 123 "
     "456735693803564380901019012345124111-1111-1111-11116011 0009 9013 9424IMEI 180180-0837 19900101-1239+44 7700 "
     "9001232024-03-126011 0009 9013 9424fnr 4111-1111-1111-1111GB29 NWBK 6016 1331 9268 19#(0)5555555555554444"),
    "€4111111111111111€+4722334455  ٣++4722334455",
    "+44 7700 900123€3782 822463 10005,٣+ 1(0)",
    "12 4111 1111 1111 1111",  # a card's groups inside a longer run are no card
])
def test_windows_give_what_the_whole_text_gives_on_found_cases(text: str) -> None:
    assert SCANNER.scan(text) == _whole(text)


def test_a_run_longer_than_widen_is_read_to_its_end() -> None:
    rnd = random.Random(7)
    pieces = ["4111-1111-1111-1111", "1111", "GB29", "x", "12", "-", "+4722334455", "010190-1234", "1"]
    for _ in range(300):
        text = "ring +47 22 33 44 55 " + "".join(rnd.choice(pieces) for _ in range(rnd.randint(20, 60)))
        assert SCANNER.scan(text) == _whole(text), text
    assert SCANNER.scan("1 " * 20_000 + "4111 1111 1111 1111") == _whole("1 " * 20_000 + "4111 1111 1111 1111")


def test_lookalikes_fire_no_trigger() -> None:
    text = ("2024.03.12 12/3/2024 12.03.2024 kontonummer 1503.12.34567 ordre #4662068 faktura INV-2019-88584 "
            "versjon 1.2.3 kl. 12:30 2024-03-12 12-03-2024 IMEI 356938035643809 IMEI 867530012345671 "
            "serial 12345678901234567890")
    assert SCANNER.triggers(text) == []


def test_each_detector_runs_only_where_its_atoms_fired() -> None:
    calls: list[tuple[str, int, int]] = []

    class Counting:
        def __init__(self, inner: Detector) -> None:
            self.inner = inner
            self.kinds = inner.kinds
            self.trigger = getattr(inner, "trigger")
            self.bounded = True

        def find(self, text: str, start: int = 0, end: int | None = None) -> Iterator[Detection]:
            calls.append((type(self.inner).__name__, start, len(text) if end is None else end))
            return self.inner.find(text, start, end)  # type: ignore[call-arg]

    text = "x " * 100 + "kari@example.no" + " y" * 100 + " 180180-0837" + " z" * 100
    Scanner(cast(list[Detector], [Counting(d) for d in DETECTORS])).scan(text)
    ran = {name for name, _, _ in calls}
    # Not the card or IBAN detectors: a 10-digit ID is no card, and has no country code; nor the
    # Norwegian one: it is no 11-digit fødselsnummer; nor the phone one: it refuses that ID shape.
    assert ran == {"EmailDetector", "CprDetector", "PersonnummerDetector", "HetuDetector"}
    # Windows hold the value, not its context: that is read from the whole text.
    assert all(end - start <= 80 for _, start, end in calls)


def test_bounded_detectors_read_context_outside_their_bounds() -> None:
    from gateway.sensitive.detectors.fodselsnummer import FodselsnummerDetector

    text = "kontonummer 08104000569"
    assert [d.confidence for d in FodselsnummerDetector().find(text, 12, 23)] == [0.4]
    assert [d.confidence for d in FodselsnummerDetector().find(text)] == [0.4]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # A label naming another country than the language of the text.
        ("finsk personnummer 200795-2504.", [("fi_hetu", "200795-2504")]),
        ("ruotsalainen henkilötunnus 140606-4350.", [("se_pnr", "140606-4350")]),
        ("norjalainen henkilötunnus 04058140266.", [("no_fnr", "04058140266")]),
        ("Swedish personal number 070603-4295. the invoice shows the wrong amount", [("se_pnr", "070603-4295")]),
        ("Swedish personal number 070214-3556.", []),  # a broken personnummer is no HETU or CPR either
        # The label of the next sentence is not this value's.
        ("CPR-numero 120366-2024. ordre #8250272.", [("dk_cpr", "120366-2024")]),
    ],
)
def test_the_country_named_decides_the_kind(text: str, found: list[tuple[str, str]]) -> None:
    assert [(d.kind, text[d.start:d.end]) for d in SCANNER.scan(text)] == found
