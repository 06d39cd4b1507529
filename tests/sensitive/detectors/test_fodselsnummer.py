"""Norwegian fødselsnummer, D- and H-numbers in running text."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.sensitive.base import Detection
from gateway.sensitive.context import CONTEXT_REACH
from gateway.sensitive.detectors.fodselsnummer import FodselsnummerDetector, classify

DETECTOR = FodselsnummerDetector()


def with_checks(first9: str) -> str | None:
    """The 11-digit number with its two mod-11 check digits, or None if one would be 10."""
    c1 = (11 - sum(w * int(d) for w, d in zip((3, 7, 6, 1, 8, 9, 4, 5, 2), first9))) % 11
    if c1 == 10:
        return None
    c2 = (11 - sum(w * int(d) for w, d in zip((5, 4, 3, 2, 7, 6, 5, 4, 3, 2), first9 + str(c1)))) % 11
    return None if c2 == 10 else first9 + str(c1) + str(c2)


def make(date: str, individual: int) -> str:
    """A valid number for ``DDMMYY`` (already shifted for D/H/synthetic), taking the next individual number that works."""
    for i in range(individual, individual + 20):
        number = with_checks(date + f"{i % 1000:03d}")
        if number is not None:
            return number
    raise AssertionError("no individual number fits")


def found(text: str) -> list[tuple[str, str, float]]:
    return [(d.kind, text[d.start:d.end], d.confidence) for d in DETECTOR.find(text)]


def test_interface() -> None:
    assert FodselsnummerDetector.kinds == ("no_fnr", "no_dnr", "no_hnr")
    assert DETECTOR._context.reach <= FodselsnummerDetector.context_reach <= CONTEXT_REACH


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("15108695088", "no_fnr"),  # python-stdnum's example
        (make("010190", 123), "no_fnr"),  # 1900s: individual 000-499
        (make("010150", 900), "no_fnr"),  # 1940-1999: 900-999
        (make("010160", 600), "no_fnr"),  # 1854-1899: 500-749
        (make("010110", 600), "no_fnr"),  # 2000-2039: 500-999
        (make("290200", 500), "no_fnr"),  # 29 February 2000
        (make("410190", 123), "no_dnr"),  # D-number: day + 40
        (make("710190", 123), "no_dnr"),
        (make("014190", 123), "no_hnr"),  # H-number: month + 40
        (make("015290", 123), "no_hnr"),
        (make("018190", 123), "no_fnr"),  # Skatteetaten's synthetic test number: month + 80
        (make("418190", 123), "no_dnr"),  # a synthetic D-number
    ],
)
def test_valid_numbers(number: str, kind: str) -> None:
    assert classify(number) == kind
    assert found(number) == [(kind, number, 0.8)]


@pytest.mark.parametrize(
    "number",
    [
        "15108695077",  # second check digit wrong
        "15108695188",  # first check digit wrong
        make("310490", 123),  # 31 April
        make("290201", 500),  # 29 February 2001
        make("320190", 123),  # day 32
        make("011390", 123),  # month 13
        make("000190", 123),  # day 0
        make("010085", 760),  # individual 750-899 with a year 40-99: no century
        make("414190", 123),  # D and H at once
        make("810190", 123),  # FH-number (no date): not detected
        "00000000000",
        "12345678903",  # a bank account number (mod 11 on one check digit only)
    ],
)
def test_invalid_numbers(number: str) -> None:
    assert classify(number) is None
    assert found(number) == []


def test_separators_and_punctuation() -> None:
    number = make("010190", 123)
    spaced = number[:6] + " " + number[6:]
    dashed = number[:6] + "-" + number[6:]
    text = f"{number}, ({spaced}); {dashed}. Slutt {number[:6]}\u00a0{number[6:]}"
    assert [value for _, value, _ in found(text)] == [number, spaced, dashed, f"{number[:6]}\u00a0{number[6:]}"]


@pytest.mark.parametrize(
    ("template", "confidence"),
    [
        ("Fødselsnummer: {}", 0.95),
        ("fødselsnummeret mitt er {}.", 0.95),
        ("Mitt fnr. er {}", 0.95),
        ("f.nr.: {}", 0.95),
        ("D-nummer {}", 0.95),
        ("personnummer {}", 0.95),
        ("Please find my national ID number {} attached", 0.95),
        ("{} (fødselsnr)", 0.95),
        ("Hei, jeg har et spørsmål om {} i går.", 0.8),
        ("Kontonummer: {}", 0.4),
        ("Overfør til konto {}", 0.4),
        ("Ordrenummer {}", 0.4),
        ("Faktura {} forfaller", 0.4),
        ("Invoice no. {}", 0.4),
        ("tlf {}", 0.4),
        ("ref: {}", 0.4),
        ("Kontonummer 1234.56.78903, fødselsnummer {}", 0.95),
    ],
)
def test_context(template: str, confidence: float) -> None:
    number = make("010190", 123)
    text = template.format(number)
    start = text.index(number)
    assert list(DETECTOR.find(text)) == [Detection("no_fnr", start, start + 11, confidence)]


@pytest.mark.parametrize(
    "text",
    [
        # The dotted bank account format never fires, even where its digits are a valid fødselsnummer.
        "Kontonummer {0[0]}{0[1]}{0[2]}{0[3]}.{0[4]}{0[5]}.{0[6]}{0[7]}{0[8]}{0[9]}{0[10]}",
        "konto {0[0]}{0[1]}{0[2]}{0[3]} {0[4]}{0[5]} {0[6]}{0[7]}{0[8]}{0[9]}{0[10]}",
        # Inside longer numbers: an IMEI, a 12-digit run, a decimal, a phone number.
        "IMEI 4{0}123",
        "{0}4",
        "4{0}",
        "3.{0}",
        "{0},5",
        "{0}-7",
        "+47{0}",
        "abc{0}",
        "{0}kr",
    ],
)
def test_lookalikes_do_not_fire(text: str) -> None:
    assert found(text.format(make("010190", 123))) == []


def test_other_numbers_do_not_fire() -> None:
    text = "Ring +47 22 33 44 55 eller 22334455, ordre 2024-01-15, dato 15.10.1986, IMEI 490154203237518."
    assert found(text) == []


def test_several_in_order() -> None:
    a, b, c = make("010190", 123), make("450575", 10), make("015199", 400)
    text = f"{a} og {b}\n{c}"
    assert [(kind, value) for kind, value, _ in found(text)] == [("no_fnr", a), ("no_dnr", b), ("no_hnr", c)]


# Every valid number, in any text, at its exact span; none with a broken check digit.
DATES = st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2039, 12, 31))
TEXT = st.text(alphabet=st.sampled_from("abcæøå ABCÆØÅ.,:;!?()\n-/+0123456789"), max_size=40)
BEFORE = st.one_of(st.just(""), st.tuples(TEXT, st.sampled_from([" ", " (", ": ", "\n", "\t"])).map("".join))
AFTER = st.one_of(st.just(""), st.tuples(st.sampled_from(["", ".", ",", ")", ";", "!"]), TEXT).map(
    lambda t: t[0] + " " + t[1]))


@st.composite
def numbers(draw: st.DrawFn) -> tuple[str, str]:
    date = draw(DATES)
    if date.year < 2000:
        individual = draw(st.integers(0, 499))
    else:
        individual = draw(st.integers(500, 999))
    shift = draw(st.sampled_from(["fnr", "dnr", "hnr", "synthetic"]))
    day = date.day + (40 if shift == "dnr" else 0)
    month = date.month + {"hnr": 40, "synthetic": 80}.get(shift, 0)
    kind = {"dnr": "no_dnr", "hnr": "no_hnr"}.get(shift, "no_fnr")
    first9 = f"{day:02d}{month:02d}{date.year % 100:02d}{individual:03d}"
    number = with_checks(first9)
    if number is None:
        number = with_checks(first9[:8] + str((int(first9[8]) + 1) % 10)) or make(first9[:6], individual + 2)
    return kind, number


@given(numbers(), BEFORE, AFTER, st.sampled_from(["", " ", "-"]))
def test_any_valid_number_is_found_at_its_span(number: tuple[str, str], before: str, after: str, sep: str) -> None:
    kind, digits = number
    value = digits[:6] + sep + digits[6:]
    text = before + value + after
    assert any(d.kind == kind and (d.start, d.end) == (len(before), len(before) + len(value))
               for d in DETECTOR.find(text))


@given(numbers(), BEFORE, AFTER, st.integers(9, 10), st.integers(1, 9))
def test_a_broken_check_digit_is_not_found(number: tuple[str, str], before: str, after: str,
                                           position: int, delta: int) -> None:
    digits = number[1]
    broken = digits[:position] + str((int(digits[position]) + delta) % 10) + digits[position + 1:]
    text = before + broken + after
    assert not any((d.start, d.end) == (len(before), len(before) + 11) for d in DETECTOR.find(text))
