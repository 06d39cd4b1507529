"""Payment card numbers (``card``): issuer prefix and length, the Luhn check, the issuer's grouping.

A number is printed either as one run of 12–19 digits or in its issuer's
groups, separated by one kind of separator (spaces or dashes): 4-4-4-4 for
most 16-digit cards, 4-6-5 for American Express, 4-6-4 for 14-digit Diners,
4-4-4-4-3 for 19 digits. Other groupings (``4111 11 1111 1111 11``) are not
a printed card number.

IMEIs are 15 digits and pass Luhn too. Only American Express (34, 37) and
Maestro issue 15-digit cards, so most IMEIs fall out on their prefix (TACs
start 35, 86, 01, 99...); an ``IMEI`` word just before the number rules it
out in any case.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from ..base import Detection
from ..scanner import CARD_DIGITS

# (first digits low, high inclusive, lengths): compared on as many leading digits as the bound has.
_ISSUERS: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("4", "4", frozenset({13, 16, 19})),                         # Visa (incl. Visa/Dankort 4571)
    ("51", "55", frozenset({16})),                               # Mastercard
    ("2221", "2720", frozenset({16})),                           # Mastercard 2-series
    ("34", "34", frozenset({15})), ("37", "37", frozenset({15})),  # American Express
    ("6011", "6011", frozenset(range(16, 20))),                  # Discover
    ("644", "649", frozenset(range(16, 20))),
    ("65", "65", frozenset(range(16, 20))),
    ("3528", "3589", frozenset(range(16, 20))),                  # JCB
    ("36", "36", frozenset(range(14, 20))),                      # Diners Club International
    ("300", "305", frozenset(range(14, 20))), ("3095", "3095", frozenset(range(14, 20))),
    ("38", "39", frozenset(range(14, 20))),
    ("62", "62", frozenset(range(16, 20))),                      # UnionPay
    ("2200", "2204", frozenset(range(16, 20))),                  # Mir
    ("5019", "5019", frozenset({16})),                           # Dankort
    ("50", "50", frozenset(range(12, 20))),                      # Maestro
    ("56", "58", frozenset(range(12, 20))),
    ("639", "639", frozenset(range(12, 20))), ("67", "67", frozenset(range(12, 20))),
    ("6304", "6304", frozenset(range(12, 20))),
    ("60", "60", frozenset(range(16, 20))), ("81", "82", frozenset({16})),  # RuPay
)

# Printed groupings by total length (a single run of digits is always accepted).
_GROUPINGS: dict[int, tuple[tuple[int, ...], ...]] = {
    12: ((4, 4, 4),),
    13: ((4, 4, 5), (4, 3, 3, 3)),
    14: ((4, 6, 4),),
    15: ((4, 6, 5), (4, 4, 4, 3)),
    16: ((4, 4, 4, 4),),
    17: ((4, 4, 4, 5),),
    18: ((4, 4, 4, 6),),
    19: ((4, 4, 4, 4, 3), (6, 13)),
}

# A run of digit groups joined by single spaces or dashes, not part of a longer token or a decimal.
_RUN = re.compile(r"(?<![\w+.,/])\d+(?:[ -]\d+)*(?![\w]|[.,/]\d)")
_IMEI = re.compile(r"\bimei(?:sv)?\b", re.IGNORECASE)
_IMEI_REACH = 24
_AFTER_IBAN_START = re.compile(r"[A-Za-z]{2}\d{2} \Z")
_SEPARATOR = re.compile(r"([ -])")
# The issuers' prefix ranges by card length.
_BY_LENGTH: dict[int, tuple[tuple[str, str], ...]] = {
    n: tuple((low, high) for low, high, lengths in _ISSUERS if n in lengths) for n in range(12, 20)
}


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def issuer_length_ok(digits: str) -> bool:
    for low, high in _BY_LENGTH.get(len(digits), ()):
        if low <= digits[: len(low)] <= high:
            return True
    return False


def _grouping_ok(groups: list[str], seps: list[str]) -> bool:
    if len(groups) == 1:
        return True
    if len(set(seps)) != 1:
        return False
    shape = tuple(len(g) for g in groups)
    return shape in _GROUPINGS.get(sum(shape), ())


class CardDetector:
    """Payment card numbers of the known issuers, Luhn-valid, printed whole or in the issuer's groups."""

    kinds: ClassVar[tuple[str, ...]] = ("card",)
    context_reach: ClassVar[int] = _IMEI_REACH
    trigger: ClassVar[str] = CARD_DIGITS
    bounded: ClassVar[bool] = True
    confidence: ClassVar[float] = 0.9

    def find(self, text: str, start: int = 0, end: int | None = None) -> Iterator[Detection]:
        end = len(text) if end is None else end
        for run in _RUN.finditer(text, start, end):
            parts = _SEPARATOR.split(run.group())
            groups, seps = parts[0::2], parts[1::2]
            yield from self._in_run(text, run.start(), groups, seps)

    def _in_run(self, text: str, base: int, groups: list[str], seps: list[str]) -> Iterator[Detection]:
        # The card is the run's first groups: all of them, or fewer when what follows is no card
        # group of four (a CVV, a year). Digits after an IBAN's country and check digits are its BBAN.
        if _AFTER_IBAN_START.search(text, max(0, base - 5), base):
            return
        for j in range(min(len(groups), 5), 0, -1):
            if j < len(groups) and len(groups[j]) == 4 and seps[j - 1] == seps[0]:
                continue
            digits = "".join(groups[:j])
            if 12 <= len(digits) <= 19 and _grouping_ok(groups[:j], seps[:j - 1]) \
                    and issuer_length_ok(digits) and luhn_ok(digits):
                end = base + sum(map(len, groups[:j])) + sum(map(len, seps[:j - 1]))
                if not _IMEI.search(text, max(0, base - _IMEI_REACH), base):
                    yield Detection("card", base, end, self.confidence)
                return
