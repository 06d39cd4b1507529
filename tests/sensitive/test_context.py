"""Context words: nearest word in a bounded window, whole words and stems, any case."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.sensitive.context import (
    COMMON_NEGATIVE,
    CONTEXT_REACH,
    LEFT_EDGE,
    RIGHT_EDGE,
    Context,
    Cue,
    clamp,
    merge,
)

CONTEXT = Context(
    {"nb": ("fødselsnummer*", "fnr", "f.nr."), "fi": ("henkilötunnu*",), "en": ("national id*",)},
    {"nb": ("konto*", "tlf"), "en": ("ref",)},
)
VALUE = "01019012345"


def cue(before: str, after: str = "") -> Cue:
    text = before + VALUE + after
    return CONTEXT.cue(text, len(before), len(before) + len(VALUE))


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("Fødselsnummer: ", "", Cue.POSITIVE),
        ("FØDSELSNUMMER ", "", Cue.POSITIVE),
        ("fødselsnummeret er ", "", Cue.POSITIVE),  # a stem takes inflections
        ("Henkilötunnuksen ", "", Cue.POSITIVE),
        ("f.nr.: ", "", Cue.POSITIVE),
        ("National\n  ID ", "", Cue.POSITIVE),  # a space matches any whitespace
        ("kontonummer ", "", Cue.NEGATIVE),
        ("Tlf. ", "", Cue.NEGATIVE),
        ("", " (fnr)", Cue.POSITIVE),
        ("", ", tlf", Cue.NEGATIVE),
        ("", "", Cue.NONE),
        ("Hei, her er det: ", ".", Cue.NONE),
        # Whole words only: no word inside another one.
        ("skfnr ", "", Cue.NONE),
        ("reform ", "", Cue.NONE),
        ("", " refx", Cue.NONE),
        # The nearest word wins, one after at twice its distance; a tie goes to the word before.
        ("konto og fnr ", "", Cue.POSITIVE),
        ("fnr og konto ", "", Cue.NEGATIVE),
        ("fnr: ", " tlf", Cue.POSITIVE),
        ("fnr ", " tlf", Cue.POSITIVE),
        ("fnr:   ", " tlf", Cue.NEGATIVE),
        ("fnr og så videre: ", " (tlf)", Cue.NEGATIVE),
    ],
)
def test_the_nearest_word_decides(before: str, after: str, expected: Cue) -> None:
    assert cue(before, after) is expected


def test_the_window_is_bounded() -> None:
    assert cue("fnr" + " " * 45) is Cue.POSITIVE
    assert cue("fnr" + " " * 49) is Cue.NONE
    assert cue("", " " * 16 + "fnr") is Cue.POSITIVE
    assert cue("", " " * 17 + "fnr") is Cue.NONE


def test_a_word_cut_by_the_window_is_matched_whole() -> None:
    # "bankkonto" ends inside the window; its tail "konto" is not a word of its own.
    assert cue("bankkonto" + " " * 45) is Cue.NONE
    # A stem that reaches into the window counts.
    assert cue("kontonummeret" + " " * 40) is Cue.NEGATIVE


def test_adjust_turns_the_cue_into_a_change_of_confidence() -> None:
    context = Context({"en": ("ssn",)}, {"en": ("order",)}, boost=0.2, penalty=0.3)
    text = "SSN 1, order 2, 3"
    assert context.adjust(text, 4, 5) == 0.2
    assert context.adjust(text, 13, 14) == -0.3
    assert context.adjust("x 3", 2, 3) == 0.0
    assert CONTEXT.apply(Cue.NONE) == 0.0


def test_a_word_in_both_lists_is_positive() -> None:
    context = Context({"en": ("id",)}, {"en": ("id", "ref")})
    assert context.cue("id 1", 3, 4) is Cue.POSITIVE


def test_a_context_needs_words() -> None:
    with pytest.raises(ValueError, match="at least one word"):
        Context({}, {"en": ()})


def test_words_are_escaped() -> None:
    context = Context({"da": ("cpr-nr.",)}, {"en": ("a+b",)})
    assert context.cue("CPR-nr. 1", 8, 9) is Cue.POSITIVE
    assert context.cue("cprxnr. 1", 8, 9) is Cue.NONE
    assert context.cue("a+b 1", 4, 5) is Cue.NEGATIVE


def test_merge_unions_languages_in_order() -> None:
    merged = merge({"en": ("a", "b")}, {"en": ("b", "c"), "nb": ("d",)})
    assert merged == {"en": ("a", "b", "c"), "nb": ("d",)}
    assert "kontonummer*" in COMMON_NEGATIVE["nb"]


def test_reach_is_within_the_declared_reach() -> None:
    assert CONTEXT.reach <= CONTEXT_REACH


def test_clamp() -> None:
    assert clamp(1.2) == 1.0
    assert clamp(-0.1) == 0.0
    assert clamp(0.8 + 0.15) == 0.95


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("123456", ["123456"]),
        ("x 123456, y", ["123456"]),
        ("(123456)", ["123456"]),
        ("a123456", []),
        ("1234567", []),
        ("9.123456", []),
        ("9-123456", []),
        ("123456-9", []),
        ("123456/7", []),
        ("123456.", ["123456"]),
        ("nr.123456", ["123456"]),
    ],
)
def test_edges_keep_a_value_out_of_longer_numbers(text: str, found: list[str]) -> None:
    pattern = re.compile(LEFT_EDGE + "[0-9]{6}" + RIGHT_EDGE)
    assert pattern.findall(text) == found


def test_a_word_after_the_end_of_the_sentence_is_not_read() -> None:
    # The label of what follows: "01019012345. Konto 1234.56.78903".
    assert cue("", ". konto 1") is Cue.NONE
    assert cue("", "\ntlf") is Cue.NONE
    assert cue("", "; tlf") is Cue.NONE
    assert cue("", ", tlf") is Cue.NEGATIVE
    assert cue("", " (f.nr.).") is Cue.POSITIVE


NORWEGIAN = Context({"nb": ("personnummer*", "fnr")}, {"en": ("ref",)}, country="no")


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        ("norsk personnummer ", Cue.POSITIVE),
        ("Norwegian national ID ", Cue.POSITIVE),
        ("norjalainen henkilötunnus ", Cue.POSITIVE),  # an ID word this context does not list
        ("norskt personnummer ", Cue.POSITIVE),
        ("finsk personnummer ", Cue.NEGATIVE),  # a word positive on its own
        ("Swedish personal number ", Cue.NEGATIVE),
        ("ruotsalaisen henkilötunnuksen ", Cue.NEGATIVE),
        ("danske CPR-nr. ", Cue.NEGATIVE),
        ("personnummer ", Cue.POSITIVE),
        ("svensk og norsk fnr ", Cue.POSITIVE),
    ],
)
def test_an_id_named_with_its_country_decides_in_any_language(before: str, expected: Cue) -> None:
    text = before + VALUE
    assert NORWEGIAN.cue(text, len(before), len(text)) is expected


def test_an_unknown_country_is_an_error() -> None:
    with pytest.raises(ValueError, match="country"):
        Context({"en": ("id",)}, {}, country="de")


def test_the_longest_word_at_a_place_is_the_one_matched() -> None:
    # "national id*" would also match "national identity": the rest of the label would be a word of its own.
    context = Context({"en": ("national id*", "national identity number")}, {"en": ("number",)})
    text = "national identity number 1"
    assert context.cue(text, 25, 26) is Cue.POSITIVE


def plain_cue(context: Context, text: str, start: int, end: int) -> Cue:
    """What ``cue`` decides, by running the word pattern over the whole window (no RE2 locator)."""
    pattern, before, after, reach = context._pattern, context._before, context._after, context._reach
    best, distance = Cue.NONE, before + 1
    for match in pattern.finditer(text, max(0, start - before - reach), start):
        if match.end() >= start - before:
            best = Cue.POSITIVE if match.lastgroup == "pos" else Cue.NEGATIVE
            distance = start - match.end()
    following = pattern.search(text, end, min(len(text), end + after + reach))
    if (following is not None and following.start() - end <= after and 2 * (following.start() - end) < distance
            and not re.search(r"[.!?;](?:\s|\Z)|\n", text[end:following.start()])):
        best = Cue.POSITIVE if following.lastgroup == "pos" else Cue.NEGATIVE
    return best


PIECES = st.sampled_from([
    "fnr", "Fødselsnummer", "FØDSELSNUMMERET", "f.nr.", "henkilötunnus", "HENKILÖTUNNUKSEN", "national\n id", "konto",
    "kontonummer", "bankkonto", "tlf", "Tlf.", "ref", "refx", "reform", "norsk", "finsk", "svensk", "Swedish",
    "personnummer", "personal number", "danske", "CPR-nr.", "skfnr", "x", "æ", ".", ". ", ";", "\n", " ", "  ", ", ",
    ":", "(", ")", "12", "€", "ж", "ſ", "K", "İ",  # outside Latin-1: K and ſ are k and s to re.IGNORECASE
])
SPACES = st.sampled_from(["", " ", " ", ": ", "\n"])


@given(st.lists(st.tuples(PIECES, SPACES), max_size=14), st.lists(st.tuples(SPACES, PIECES), max_size=8),
       st.sampled_from([CONTEXT, NORWEGIAN]))
def test_the_locator_changes_no_cue(before: list[tuple[str, str]], after: list[tuple[str, str]],
                                    context: Context) -> None:
    head = "".join(a + b for a, b in before)
    text = head + VALUE + "".join(a + b for a, b in after)
    assert context.cue(text, len(head), len(head) + len(VALUE)) is plain_cue(context, text, len(head),
                                                                            len(head) + len(VALUE))


def test_a_word_written_with_a_letter_outside_latin1_is_still_a_word() -> None:
    # re.IGNORECASE takes the long s for an s: the text is not Latin-1, the whole window is searched.
    assert cue("fødſelsnummer ") is Cue.POSITIVE
    assert cue("KONTO ") is Cue.NEGATIVE  # the Kelvin sign for a K
