"""Swedish personnummer and samordningsnummer in running text."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.sensitive.base import Detection
from gateway.sensitive.context import CONTEXT_REACH
from gateway.sensitive.detectors.cpr import CprDetector
from gateway.sensitive.detectors.personnummer import PersonnummerDetector

DETECTOR = PersonnummerDetector()


def luhn(nine: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(nine)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return nine + str((10 - total % 10) % 10)


def found(text: str) -> list[tuple[str, str, float]]:
    return [(d.kind, text[d.start:d.end], d.confidence) for d in DETECTOR.find(text)]


def test_interface() -> None:
    assert PersonnummerDetector.kinds == ("se_pnr", "se_samordning")
    assert DETECTOR._context.reach <= PersonnummerDetector.context_reach <= CONTEXT_REACH


@pytest.mark.parametrize(
    ("value", "kind", "confidence"),
    [
        ("811228-9874", "se_pnr", 0.8),  # python-stdnum's example
        ("19811228-9874", "se_pnr", 0.8),
        ("198112289874", "se_pnr", 0.8),
        ("8112289874", "se_pnr", 0.7),  # no separator: a plainer shape
        ("811228+9874", "se_pnr", 0.8),  # 100 years or older
        # Skatteverket's test series (serial 98xx/99xx).
        ("19" + luhn("900101980")[:6] + "-" + luhn("900101980")[6:], "se_pnr", 0.8),
        (luhn("640823323")[:6] + "-" + luhn("640823323")[6:], "se_pnr", 0.8),
        ("20" + luhn("000229123"), "se_pnr", 0.8),  # 29 February 2000
        # Samordningsnummer: day + 60.
        (luhn("900161980")[:6] + "-" + luhn("900161980")[6:], "se_samordning", 0.8),
        ("19" + luhn("701291234"), "se_samordning", 0.8),
        # Also a valid Danish CPR date (12-12-1912): a plainer shape.
        ("121212-1212", "se_pnr", 0.7),
    ],
)
def test_valid_numbers(value: str, kind: str, confidence: float) -> None:
    assert found(value) == [(kind, value, confidence)]


@pytest.mark.parametrize(
    "value",
    [
        "811228-9873",  # Luhn
        "8112289875",
        "19811228-9875",
        luhn("811328987"),  # month 13
        luhn("810230987"),  # 30 February
        luhn("810232987"),  # day 32
        luhn("810292987"),  # samordning day 32
        luhn("810100987"),  # day 0
        "19" + luhn("010229123"),  # 29 February 1901
        "21" + luhn("811228987"),  # no such century
        "198112+289874",
        "19811228+9874",  # the + is for the 10-digit form only
        "811228 9874",  # no space separator
        "81122-89874",
    ],
)
def test_invalid_numbers(value: str) -> None:
    assert found(value) == []


def test_a_leap_day_exists_in_one_of_the_centuries() -> None:
    # 000229 is 29 February 2000 with "-", not a date with "+" (1800, 1900).
    number = luhn("000229123")
    assert found(number[:6] + "-" + number[6:]) != []
    assert found(number[:6] + "+" + number[6:]) == []


@pytest.mark.parametrize(
    ("template", "confidence"),
    [
        ("Personnummer: {}", 0.95),
        ("mitt personnumret är {}.", 0.95),
        ("pers.nr. {}", 0.95),
        ("Samordningsnummer {}", 0.95),
        ("Personal identity number: {}", 0.95),
        ("Hej! Jag undrar över {} tack.", 0.8),
        ("Kontonummer {}", 0.4),
        ("Ordernummer: {}", 0.4),
        ("Faktura {}", 0.4),
        ("Telefon {}", 0.4),
        ("CPR-nr. {}", 0.4),  # a Danish label
        ("henkilötunnus {}", 0.4),  # a Finnish one
    ],
)
def test_context(template: str, confidence: float) -> None:
    value = "811228-9874"
    text = template.format(value)
    start = text.index(value)
    assert list(DETECTOR.find(text)) == [Detection("se_pnr", start, start + len(value), confidence)]


def test_a_phone_number_that_passes_luhn_is_lowered_by_its_label() -> None:
    phone = luhn("070123456")
    assert found(phone) == [("se_pnr", phone, 0.7)]
    assert found(f"Ring mig på tel {phone}") == [("se_pnr", phone, 0.3)]
    assert found("Mobil: 070-123 45 67, +46 70 123 45 67") == []


@pytest.mark.parametrize(
    ("template", "winner"),
    [
        ("{}", "se_pnr"),
        ("Personnummer {}", "se_pnr"),
        ("CPR-nr.: {}", "dk_cpr"),
        ("Mit CPR-nummer er {}", "dk_cpr"),
    ],
)
def test_a_value_that_is_a_cpr_and_a_personnummer_goes_to_the_context(template: str, winner: str) -> None:
    text = template.format("121212-1212")
    both = list(DETECTOR.find(text)) + list(CprDetector().find(text))
    assert {d.kind for d in both} == {"se_pnr", "dk_cpr"}
    assert len({(d.start, d.end) for d in both}) == 1
    assert max(both, key=lambda d: d.confidence).kind == winner
    assert len({d.confidence for d in both}) == 2  # never a tie


@pytest.mark.parametrize(
    "template",
    ["a{}", "{}a", "1{}", "{}1", "3.{}", "{}-7", "IMEI 4901{}12", "+46{}", "{}/2"],
)
def test_lookalikes_do_not_fire(template: str) -> None:
    assert found(template.format("8112289874")) == []
    assert found(template.format("811228-9874")) == []


def test_several_in_order_at_the_edges() -> None:
    text = "19811228-9874, 121212-1212 och (900161-9809)"
    assert [v for _, v, _ in found(text)] == ["19811228-9874", "121212-1212", "900161-9809"]


DATES = st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2099, 12, 31))
TEXT = st.text(alphabet=st.sampled_from("abcåäö ABCÅÄÖ.,:;!?()\n-/+0123456789"), max_size=40)
BEFORE = st.one_of(st.just(""), st.tuples(TEXT, st.sampled_from([" ", " (", ": ", "\n", "\t"])).map("".join))
AFTER = st.one_of(st.just(""), st.tuples(st.sampled_from(["", ".", ",", ")", ";", "!"]), TEXT).map(
    lambda t: t[0] + " " + t[1]))


@st.composite
def numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A kind and a valid number in one of its written forms."""
    date = draw(DATES)
    samordning = draw(st.booleans())
    serial = draw(st.integers(0, 999))
    ten = luhn(f"{date.year % 100:02d}{date.month:02d}{date.day + (60 if samordning else 0):02d}{serial:03d}")
    form = draw(st.sampled_from(["short-", "short", "long-", "long", "short+"]))
    if form == "short+" and date.year >= 2000:
        form = "short-"
    if form.startswith("long"):
        value = f"{date.year // 100}{ten[:6]}{form[4:]}{ten[6:]}"
    else:
        value = ten[:6] + form[5:] + ten[6:]
    return ("se_samordning" if samordning else "se_pnr"), value


@given(numbers(), BEFORE, AFTER)
def test_any_valid_number_is_found_at_its_span(number: tuple[str, str], before: str, after: str) -> None:
    kind, value = number
    text = before + value + after
    assert any(d.kind == kind and (d.start, d.end) == (len(before), len(before) + len(value))
               for d in DETECTOR.find(text))


@given(numbers(), BEFORE, AFTER, st.integers(1, 9))
def test_a_broken_check_digit_is_not_found(number: tuple[str, str], before: str, after: str, delta: int) -> None:
    value = number[1]
    broken = value[:-1] + str((int(value[-1]) + delta) % 10)
    text = before + broken + after
    assert not any((d.start, d.end) == (len(before), len(before) + len(broken)) for d in DETECTOR.find(text))
