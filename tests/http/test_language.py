"""Accept-Language: the offered language a visitor prefers."""

from __future__ import annotations

import pytest

from gateway.http.language import pick_language


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", "en"),
        ("nb", "nb"),
        ("nb-NO,nb;q=0.9,en;q=0.8", "nb"),
        ("no", "nb"),
        ("nn-NO", "nb"),
        ("de-DE,de;q=0.9", "en"),
        ("de, nb;q=0.5, en;q=0.4", "nb"),
        ("en;q=0.5, nb;q=0.6", "nb"),
        ("nb;q=0, en;q=0.1", "en"),
        ("nb;q=nan", "en"),
        ("nb;q=bogus, en", "en"),
        ("EN-gb", "en"),
        ("*", "en"),
        ("nb, en", "nb"),
        ("en, nb", "en"),
        (",,,;;;", "en"),
    ],
)
def test_language_follows_accept_language(header: str, expected: str) -> None:
    assert pick_language(header, ("en", "nb")) == expected


def test_language_falls_back_to_the_first_offered() -> None:
    assert pick_language("fr", ("nb", "en")) == "nb"
    assert pick_language("x" * 10_000 + ",en", ("nb", "en")) == "en"
