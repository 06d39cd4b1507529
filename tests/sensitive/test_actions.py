"""Masking actions: last four kept, keyed tokens stable across formats, spans replaced."""

from __future__ import annotations

import pytest

from gateway.sensitive.actions import last4, normalise, replace_spans, token

KEY = b"k" * 32


@pytest.mark.parametrize(
    ("value", "masked"),
    [("12345678901", "*******8901"), ("1234", "****"), ("12", "**"), ("", ""), ("ola@ex.no", "*****x.no")],
)
def test_last4_keeps_the_last_four_characters(value: str, masked: str) -> None:
    assert last4(value) == masked


def test_a_token_is_keyed_short_and_the_same_for_one_value_in_any_format() -> None:
    t = token(KEY, "no_fnr", "110390 33331")
    assert t.startswith("[no_fnr:") and t.endswith("]") and len(t) == len("[no_fnr:]") + 8
    assert int(t[8:-1], 16) >= 0
    assert token(KEY, "no_fnr", "11039033331") == t == token(KEY, "no_fnr", "110390-33331")
    assert token(b"x" * 32, "no_fnr", "11039033331") != t  # another key, another token
    assert token(KEY, "dk_cpr", "11039033331") != t  # the kind is part of the hash
    assert token(KEY, "email", "Ola@Example.no") == token(KEY, "email", "ola@example.no")
    assert normalise("iban", "no93 8601 1117 947") == "NO9386011117947"


def test_spans_are_replaced_in_order_and_overlaps_refused() -> None:
    assert replace_spans("a 123 b 456", [(8, 11, "#"), (2, 5, "***")]) == "a *** b #"
    assert replace_spans("abc", []) == "abc"
    with pytest.raises(ValueError):
        replace_spans("abcdef", [(0, 3, "x"), (2, 4, "y")])
