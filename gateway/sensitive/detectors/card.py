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

The scanner's trigger (:data:`CARD_NUMBER`) is built from the same issuer
table, so IMEIs and other long numbers of no issuer's length never reach
this detector. A window may start inside a run of digit groups: ``find``
reads every run from its start, as the whole text does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import ClassVar

from ..base import Detection

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
# The same as the first four digits (every issuer's prefix has at most four, every grouping's first
# group at least four): a card's first four digits are one of these.
_FIRST_FOUR: dict[int, frozenset[str]] = {
    n: frozenset(f"{p:04d}" for low, high in ranges
                 for p in range(int(low) * 10 ** (4 - len(low)), (int(high) + 1) * 10 ** (4 - len(low))))
    for n, ranges in _BY_LENGTH.items()
}


def _digits_pattern(strings: Iterable[str]) -> str:
    """A compact regex for exactly these digit strings, all of one length (a trie; shared tails as classes)."""
    items = sorted(set(strings))
    if not items or not items[0]:
        return ""
    tails: dict[str, list[str]] = {}
    for item in items:
        tails.setdefault(item[0], []).append(item[1:])
    firsts: dict[tuple[str, ...], list[str]] = {}
    for first, rests in tails.items():
        firsts.setdefault(tuple(rests), []).append(first)
    branches = []
    for rest, chars in firsts.items():
        head = chars[0] if len(chars) == 1 else "[0-9]" if len(chars) == 10 else f"[{''.join(chars)}]"
        branches.append(head + _digits_pattern(rest))
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


# Where a card can be (the scanner's trigger): after what may stand before a run, a valid issuer's
# first four digits, the rest of that length's digits (single spaces or dashes between), then no
# letter or digit. An IMEI (15 digits after TAC 35, 86, 01, 99...) is none: no issuer has those.
CARD_NUMBER = (
    r"(?:^|[^0-9A-Za-z_+.,/])(?:"
    + "|".join(f"{_digits_pattern(_FIRST_FOUR[n])}(?:[ \\-]?[0-9]){{{n - 4}}}" for n in sorted(_FIRST_FOUR))
    + r")(?:[^0-9A-Za-z_]|$)"
)
_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")  # a digit doubled, its digits summed


def luhn_ok(digits: str) -> bool:
    """The Luhn check (also python-stdnum's ``luhn.is_valid`` on ASCII digits)."""
    if digits.isascii() and digits.isdigit():
        data = digits.encode("ascii")  # byte sums: each digit counts 48 more
        return (sum(data[-1::-2]) + sum(data[-2::-2].translate(_DOUBLED)) - 48 * len(data)) % 10 == 0
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
    if digits.isascii() and digits.isdigit():
        return digits[:4] in _FIRST_FOUR.get(len(digits), ())
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
    trigger: ClassVar[str] = CARD_NUMBER
    bounded: ClassVar[bool] = True
    confidence: ClassVar[float] = 0.9

    def find(self, text: str, start: int = 0, end: int | None = None) -> Iterator[Detection]:
        end = len(text) if end is None else end
        # Runs are read as in the whole text: from a place no run goes across (a run that starts
        # before ``start`` is not reported, and a search from inside it would read a shorter one).
        origin = start
        while origin > 0 and (text[origin - 1].isdecimal()  # \d
                              or text[origin - 1] in " -" and origin > 1 and text[origin - 2].isdecimal()):
            origin -= 1
        for run in _RUN.finditer(text, origin, end):
            base = run.start()
            if base < start:
                continue
            value = run.group()
            if " " not in value and "-" not in value:  # one group: the run is the card or none
                if (12 <= len(value) <= 19 and issuer_length_ok(value) and luhn_ok(value)
                        and not _AFTER_IBAN_START.search(text, max(0, base - 5), base)
                        and not _IMEI.search(text, max(0, base - _IMEI_REACH), base)):
                    yield Detection("card", base, run.end(), self.confidence)
                continue
            parts = _SEPARATOR.split(value)
            groups, seps = parts[0::2], parts[1::2]
            if sum(map(len, groups)) >= 12:
                yield from self._in_run(text, base, groups, seps)

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
