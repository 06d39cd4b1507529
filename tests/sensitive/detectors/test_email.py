"""E-mail addresses."""

from __future__ import annotations

import pytest

from gateway.sensitive.detectors.email import EmailDetector

DETECTOR = EmailDetector()


def found(text: str) -> list[str]:
    return [text[d.start:d.end] for d in DETECTOR.find(text)]


@pytest.mark.parametrize(("text", "expected"), [
    ("svar til ola.nordmann@example.no.", ["ola.nordmann@example.no"]),
    ("<kari+helpdesk@firma.co.uk>", ["kari+helpdesk@firma.co.uk"]),
    ("bjørn@blåbær.no, anna_b@posti.fi", ["bjørn@blåbær.no", "anna_b@posti.fi"]),
    ("mailto:john-smith99@mail.dk?subject=x", ["john-smith99@mail.dk"]),
])
def test_addresses_are_found(text: str, expected: list[str]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize("text", [
    "@mention", "user@localhost", "a..b@example.no", ".ola@example.no", "ola@-example.no", "ola@example.n0",
    "version 1.2@3", "ola@example",
])
def test_non_addresses_are_not_found(text: str) -> None:
    assert found(text) == []
