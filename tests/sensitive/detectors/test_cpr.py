"""Danish CPR numbers: a hyphen or a context word, a valid date, the century rule of the 7th digit."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.dk import cpr

from gateway.sensitive.base import Detection
from gateway.sensitive.context import CONTEXT_REACH
from gateway.sensitive.detectors.cpr import CprDetector, birth_date

DETECTOR = CprDetector()


def found(text: str) -> list[tuple[str, float]]:
    return [(text[d.start:d.end], d.confidence) for d in DETECTOR.find(text)]


def test_interface() -> None:
    assert CprDetector.kinds == ("dk_cpr",)
    assert DETECTOR._context.reach <= CprDetector.context_reach <= CONTEXT_REACH


@pytest.mark.parametrize(
    ("digits", "born"),
    [
        ("2110620629", datetime.date(1962, 10, 21)),  # python-stdnum's example
        ("2110625629", datetime.date(1862, 10, 21)),
        ("0101000123", datetime.date(1900, 1, 1)),  # 0-3: 1900s
        ("3112993123", datetime.date(1999, 12, 31)),
        ("0101364123", datetime.date(2036, 1, 1)),  # 4 and 9: 2000-2036, else 1900s
        ("0101374123", datetime.date(1937, 1, 1)),
        ("0101369123", datetime.date(2036, 1, 1)),
        ("0101379123", datetime.date(1937, 1, 1)),
        ("0101575123", datetime.date(2057, 1, 1)),  # 5-8: 2000-2057, else 1800s
        ("0101588123", datetime.date(1858, 1, 1)),
        ("2902006123", datetime.date(2000, 2, 29)),
    ],
)
def test_the_century_rule(digits: str, born: datetime.date) -> None:
    assert birth_date(digits) == born == cpr.get_birth_date(digits)


@pytest.mark.parametrize("digits", ["2902001123", "3104901234", "3201901234", "0113901234", "0001901234", "2902586123"])
def test_invalid_dates(digits: str) -> None:
    assert birth_date(digits) is None
    assert found(digits[:6] + "-" + digits[6:]) == []
    assert found("CPR: " + digits) == []


@pytest.mark.parametrize(
    ("text", "confidence"),
    [
        ("211062-5629", 0.6),  # a hyphen and a date: a CPR shape, no more
        ("Mit CPR-nummer er 211062-5629.", 0.9),
        ("CPR-nr.: 211062-5629", 0.9),
        ("cpr 211062-5629", 0.9),
        ("Personnummer: 211062-5629", 0.9),
        ("211062-5629 (CPR)", 0.9),
        ("Civil registration number 211062-5629", 0.9),
        ("Hej, jeg skriver angående 211062-5629 i går", 0.6),
        ("Ordrenummer 211062-5629", 0.3),
        ("Faktura 211062-5629", 0.3),
        ("Tlf. 211062-5629", 0.3),
        ("Reg.nr. 211062-5629", 0.3),
        ("samordningsnummer 211062-5629", 0.3),
        ("henkilötunnus 211062-5629", 0.3),
    ],
)
def test_hyphenated(text: str, confidence: float) -> None:
    start = text.index("211062-5629")
    assert list(DETECTOR.find(text)) == [Detection("dk_cpr", start, start + 11, confidence)]


@pytest.mark.parametrize(
    ("text", "reported"),
    [
        ("2110625629", False),  # ten digits are ten digits: not without a word
        ("Sagsnummer 2110625629", False),
        ("Ordre 2110625629", False),
        ("Hej, jeg skriver angående 2110625629 i går", False),
        ("CPR 2110625629", True),
        ("cpr-nr. 2110625629", True),
        ("mit personnummer er 2110625629", True),
        ("2110625629 (CPR)", True),
        ("CPR-nummer og tlf. 2110625629", False),  # the nearer word is negative
    ],
)
def test_without_hyphen_only_with_a_word(text: str, reported: bool) -> None:
    assert found(text) == ([("2110625629", 0.9)] if reported else [])


@pytest.mark.parametrize(
    "template",
    ["a{}", "{}a", "1{}", "{}1", "3.{}", "{}-7", "{}.5", "+45{}", "IMEI 49{}123", "21106-25629", "{}/3"],
)
def test_lookalikes_do_not_fire(template: str) -> None:
    assert found("CPR " + template.format("211062-5629")) == []
    assert found("CPR " + template.format("2110625629")) == []


def test_other_numbers_do_not_fire() -> None:
    text = "CPR: ring +45 12 34 56 78 eller 12345678; dato 2024-01-15, 21.10.1962; konto 1234-5678901234"
    assert found(text) == []


def test_several_in_order_at_the_edges() -> None:
    text = "211062-5629, (010100-0123) og CPR 3112993123."
    assert [v for v, _ in found(text)] == ["211062-5629", "010100-0123", "3112993123"]


DATES = st.dates(min_value=datetime.date(1858, 1, 1), max_value=datetime.date(2057, 12, 31))
TEXT = st.text(alphabet=st.sampled_from("abcæøå ABCÆØÅ.,:;!?()\n-/+0123456789"), max_size=40)
BEFORE = st.one_of(st.just(""), st.tuples(TEXT, st.sampled_from([" ", " (", ": ", "\n", "\t"])).map("".join))
AFTER = st.one_of(st.just(""), st.tuples(st.sampled_from(["", ".", ",", ")", ";", "!"]), TEXT).map(
    lambda t: t[0] + " " + t[1]))


def seventh_digits(year: int) -> str:
    yy = year % 100
    return "".join(d for d in "0123456789" if birth_date(f"0101{yy:02d}{d}000") == datetime.date(year, 1, 1))


@st.composite
def cprs(draw: st.DrawFn) -> str:
    date = draw(DATES)
    seventh = draw(st.sampled_from(seventh_digits(date.year)))
    serial = draw(st.integers(0, 999))
    return date.strftime("%d%m") + f"{date.year % 100:02d}-{seventh}{serial:03d}"


@given(cprs(), BEFORE, AFTER)
def test_any_hyphenated_cpr_is_found_at_its_span(value: str, before: str, after: str) -> None:
    text = before + value + after
    assert any((d.start, d.end) == (len(before), len(before) + 11) for d in DETECTOR.find(text))


@given(cprs(), BEFORE, AFTER, st.sampled_from(["32", "00", "45", "99"]))
def test_an_invalid_day_is_not_found(value: str, before: str, after: str, day: str) -> None:
    broken = day + value[2:]
    text = before + broken + after
    assert not any((d.start, d.end) == (len(before), len(before) + 11) for d in DETECTOR.find(text))


@pytest.mark.parametrize(("text", "found"), [
    ("Hej, mit personnummer er 010190-1234, og jeg kan ikke logge ind.", True),
    ("Hej, jag kan inte logga in. Mitt personnummer är 010190-1234 och det är fel.", False),
    ("Hej, jag kan inte logga in. Mitt CPR-nummer är 010190-1234.", True),  # a CPR word decides, whatever the language
])
def test_personnummer_is_danish_or_swedish_as_the_text_around_is_written(text: str, found: bool) -> None:
    detections = [d for d in CprDetector().find(text) if d.confidence >= 0.8]
    assert bool(detections) is found
