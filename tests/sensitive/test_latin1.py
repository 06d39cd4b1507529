"""RE2 over Latin-1 bytes: offsets kept, digits of any script seen as digits, spans without match objects."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from gateway.sensitive.latin1 import Regex, encode


def test_encoding_keeps_offsets_and_marks_what_latin1_lacks() -> None:
    text = "æøå 12 €5 ٣٤ ж"
    data = encode(text)
    assert len(data) == len(text)
    assert data == "æøå 12 ?5 00 ?".encode("latin-1")  # Arabic-Indic digits are digits to ``\d``


@given(st.text(max_size=40))
def test_every_character_keeps_its_place_and_a_digit_stays_a_digit(text: str) -> None:
    data = encode(text)
    assert len(data) == len(text)
    for char, byte in zip(text, data):
        assert (re.fullmatch(r"\d", char) is not None) == (chr(byte) in "0123456789")


def test_search_gives_the_first_span_within_bounds() -> None:
    digits = Regex(r"[0-9]+")
    data = b"ab 123 cd 4567"
    assert digits.search(data) == (3, 6)
    assert digits.search(data, 6) == (10, 14)
    assert digits.search(data, 4, 5) == (4, 5)  # the bounds cut the match, as slicing would
    assert digits.search(data, 0, 2) is None
    assert digits.search(data, 20) is None and digits.search(data, 5, 2) is None  # out of range: no match


def test_spans_are_the_successive_matches() -> None:
    data = b"1 22 333"
    assert Regex(r"[0-9]+").spans(data) == [(0, 1), (2, 4), (5, 8)]
    assert Regex(r"[0-9]+").spans(data, 1, 7) == [(2, 4), (5, 7)]
    assert Regex(r"x*").spans(b"ab") == [(0, 0), (1, 1), (2, 2)]  # an empty match moves on by one


def test_longest_or_first_alternative() -> None:
    assert Regex(r"a|ab").search(b"ab") == (0, 1)
    assert Regex(r"a|ab", longest=True).search(b"ab") == (0, 2)


def test_latin1_letters_are_single_bytes() -> None:
    assert Regex("ø+").search(encode("xøøy")) == (1, 3)
