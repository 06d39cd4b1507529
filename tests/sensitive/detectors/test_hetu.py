"""Finnish HETU in running text, the 2023 century signs included."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.sensitive.base import Detection
from gateway.sensitive.context import CONTEXT_REACH
from gateway.sensitive.detectors.cpr import CprDetector
from gateway.sensitive.detectors.hetu import HetuDetector
from gateway.sensitive.detectors.personnummer import PersonnummerDetector

DETECTOR = HetuDetector()
CHECKS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
SIGNS = {1800: "+", 1900: "-YXWVU", 2000: "ABCDEF"}


def hetu(date: str, sign: str, individual: str) -> str:
    return date + sign + individual + CHECKS[int(date + individual) % 31]


def found(text: str) -> list[tuple[str, float]]:
    return [(text[d.start:d.end], d.confidence) for d in DETECTOR.find(text)]


def test_interface() -> None:
    assert HetuDetector.kinds == ("fi_hetu",)
    assert DETECTOR._context.reach <= HetuDetector.context_reach <= CONTEXT_REACH


@pytest.mark.parametrize(
    ("value", "confidence"),
    [
        ("131052-308T", 0.9),  # python-stdnum's example
        ("131052-308t", 0.9),
        (hetu("010594", "Y", "902"), 0.9),  # 2023 signs for the 1900s
        (hetu("010594", "X", "902"), 0.9),
        (hetu("010594", "W", "902"), 0.9),
        (hetu("010594", "V", "902"), 0.9),
        (hetu("010594", "U", "902"), 0.9),
        (hetu("010106", "A", "999"), 0.9),  # DVV's test codes: individual numbers 9xx
        (hetu("010106", "B", "900"), 0.9),  # 2023 signs for the 2000s
        (hetu("010106", "C", "902"), 0.9),
        (hetu("010106", "D", "903"), 0.9),
        (hetu("010106", "E", "904"), 0.9),
        (hetu("010106", "F", "905"), 0.9),
        (hetu("290200", "A", "123"), 0.9),  # 29 February 2000
        (hetu("010190", "-", "123"), 0.9),  # check M
        ("010194-0090", 0.8),  # a digit check: the shape of a CPR
        ("311299+999E", 0.9),  # 1800s
        ("010190+0100", 0.7),  # 1800s with a digit check: a Swedish centenarian's shape
    ],
)
def test_valid_codes(value: str, confidence: float) -> None:
    assert found(value) == [(value, confidence)]


@pytest.mark.parametrize(
    "value",
    [
        "131052-308U",  # wrong check
        "131052-3081",
        hetu("290200", "-", "123"),  # 29 February 1900
        hetu("290201", "A", "123"),  # 29 February 2001
        hetu("310490", "-", "123"),  # 31 April
        hetu("001390", "-", "123"),  # day 0
        hetu("011390", "-", "123"),  # month 13
        hetu("010190", "-", "001"),  # individual numbers start at 002
        hetu("010190", "-", "000"),
        hetu("010190", "G", "123"),  # not a century sign
        hetu("010190", "Z", "123"),
        "010190-123G",  # not a check character
        "010190-123I",
        "010190 123M",
        "010190123M",
    ],
)
def test_invalid_codes(value: str) -> None:
    assert found(value) == []


@pytest.mark.parametrize(
    ("template", "confidence"),
    [
        ("Henkilötunnus: {}", 0.98),
        ("henkilötunnukseni on {}.", 0.98),
        ("Hetu {}", 0.98),
        ("sotu: {}", 0.98),
        ("Personbeteckning {}", 0.98),
        ("Personal identity code {}", 0.98),
        ("Hei, kysyisin asiasta {} kiitos", 0.9),
        ("Tilausnumero {}", 0.5),
        ("lasku {}", 0.5),
        ("puh. {}", 0.5),
        ("CPR {}", 0.5),
    ],
)
def test_context(template: str, confidence: float) -> None:
    value = "131052-308T"
    text = template.format(value)
    start = text.index(value)
    assert list(DETECTOR.find(text)) == [Detection("fi_hetu", start, start + len(value), confidence)]


@pytest.mark.parametrize("template", ["a{}", "{}a", "1{}", "{}1", "3.{}", "{}-7", "{}.5"])
def test_lookalikes_do_not_fire(template: str) -> None:
    assert found(template.format("131052-308T")) == []


def test_a_hetu_with_a_digit_check_wins_over_the_cpr_shape() -> None:
    text = "Asia: 010194-0090"
    [fi] = DETECTOR.find(text)
    [dk] = CprDetector().find(text)
    assert (fi.start, fi.end) == (dk.start, dk.end)
    assert fi.confidence > dk.confidence


def test_a_plus_hetu_that_is_a_personnummer_goes_to_sweden() -> None:
    # A valid HETU (10.10.1810) and a valid personnummer (10 October 1910, 100 years or older).
    value = "101010+0335"
    [fi] = DETECTOR.find(value)
    [se] = PersonnummerDetector().find(value)
    assert se.confidence > fi.confidence


def test_several_in_order_at_the_edges() -> None:
    a, b = "131052-308T", hetu("010106", "B", "900")
    assert [v for v, _ in found(f"{a}, ({b})")] == [a, b]


DATES = st.dates(min_value=datetime.date(1800, 1, 1), max_value=datetime.date(2099, 12, 31))
TEXT = st.text(alphabet=st.sampled_from("abcäö ABCÄÖ.,:;!?()\n-/+0123456789"), max_size=40)
BEFORE = st.one_of(st.just(""), st.tuples(TEXT, st.sampled_from([" ", " (", ": ", "\n", "\t"])).map("".join))
AFTER = st.one_of(st.just(""), st.tuples(st.sampled_from(["", ".", ",", ")", ";", "!"]), TEXT).map(
    lambda t: t[0] + " " + t[1]))


@st.composite
def codes(draw: st.DrawFn) -> str:
    date = draw(DATES)
    sign = draw(st.sampled_from(SIGNS[date.year // 100 * 100]))
    individual = draw(st.integers(2, 999))
    return hetu(date.strftime("%d%m") + f"{date.year % 100:02d}", sign, f"{individual:03d}")


@given(codes(), BEFORE, AFTER)
def test_any_valid_code_is_found_at_its_span(value: str, before: str, after: str) -> None:
    text = before + value + after
    assert any((d.start, d.end) == (len(before), len(before) + len(value)) for d in DETECTOR.find(text))


@given(codes(), BEFORE, AFTER, st.integers(1, 30))
def test_a_broken_check_is_not_found(value: str, before: str, after: str, delta: int) -> None:
    broken = value[:-1] + CHECKS[(CHECKS.index(value[-1]) + delta) % 31]
    text = before + broken + after
    assert not any((d.start, d.end) == (len(before), len(before) + len(broken)) for d in DETECTOR.find(text))
