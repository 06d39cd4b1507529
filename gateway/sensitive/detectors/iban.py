"""IBANs (``iban``): python-stdnum's check (mod 97, the country's length and BBAN format, national check digits where it has them).

Printed compact (``NO9386011117947``) or in groups of four separated by one
space (``NO93 8601 1117 947``), upper or lower case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import ClassVar

from stdnum import iban as stdnum_iban

from ..base import Detection
from ..scanner import IBAN_GROUPS

# Country, check digits, then either a compact BBAN or space-separated groups of four (the last may be shorter).
_CANDIDATE = re.compile(
    r"(?<![\w])[A-Za-z]{2}\d{2}(?:[A-Za-z0-9]{8,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,3})?)(?!\w)"
)
# Letters as their mod-97 numbers (A = 10 ... Z = 35), spaces dropped.
_AS_DIGITS = {ord(c): str(i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 10)} | {ord(" "): None}


def _country_rules() -> dict[str, dict[str, str]] | None:
    """python-stdnum's IBAN registry by country code, if it is the flat table of two-letter codes it has been."""
    registry = getattr(getattr(stdnum_iban, "_ibandb", None), "prefixes", None)
    if not isinstance(registry, list):
        return None
    rules: dict[str, dict[str, str]] = {}
    for entry in registry:
        if not (isinstance(entry, tuple) and len(entry) == 5):
            return None
        length, low, high, props, children = entry
        if length != 2 or low != high or children:
            return None
        rules[low] = props
    return rules


_COUNTRIES = _country_rules()
# Per country code: its BBAN format and its national IBAN module (national check digits), or None
# (not in the registry); read from python-stdnum once.
_CHECKS: dict[str, tuple[re.Pattern[str], Callable[[str], bool] | None] | None] = {}


def stdnum_valid(candidate: str) -> bool:
    """``stdnum.iban.is_valid(candidate)``, for a candidate of ASCII letters, digits and spaces whose mod 97 is right.

    The same steps as stdnum's (the country's BBAN format from its registry, then its national
    module), with the registry's lookups done once per country.
    """
    number = candidate.replace(" ", "").upper()
    if _COUNTRIES is None or not number.isascii() or not number.isalnum():
        return bool(stdnum_iban.is_valid(candidate))
    country = number[:2]
    if country not in _CHECKS:
        props = _COUNTRIES.get(country)
        if not props:
            _CHECKS[country] = None
        else:
            module = stdnum_iban._get_cc_module(country)  # what stdnum.iban.validate asks for
            _CHECKS[country] = (stdnum_iban._struct_to_re(props.get("bban", "")),
                                None if module is None else module.is_valid)
    checks = _CHECKS[country]
    if checks is None:
        return False
    bban, national = checks
    return bool(bban.match(number[4:])) and (national is None or bool(national(number)))


def _mod97_ok(candidate: str) -> bool:
    """The ISO 7064 mod-97 check alone (stdnum checks it too, after the country's length and format)."""
    compact = candidate.upper()
    try:
        return int((compact[4:] + compact[:4]).translate(_AS_DIGITS)) % 97 == 1
    except ValueError:
        return True  # leave anything unusual to stdnum


class IbanDetector:
    """IBANs valid by python-stdnum's ``stdnum.iban``."""

    kinds: ClassVar[tuple[str, ...]] = ("iban",)
    trigger: ClassVar[str] = IBAN_GROUPS
    bounded: ClassVar[bool] = True
    tail: ClassVar[int] = 48  # a grouped IBAN after its first group (letters too: "MTLC AST0")
    confidence: ClassVar[float] = 0.95

    def find(self, text: str, start: int = 0, end: int | None = None) -> Iterator[Detection]:
        end = len(text) if end is None else end
        pos = start
        while True:
            match = _CANDIDATE.search(text, pos, end)
            if match is None:
                return
            found = self._longest_valid(match.group())
            if found:
                yield Detection("iban", match.start(), match.start() + found, self.confidence)
                pos = match.start() + found
            else:
                pos = match.start() + 1

    @staticmethod
    def _longest_valid(candidate: str) -> int:
        """Length of the longest valid IBAN that ``candidate`` starts with, cut at a group boundary (0: none)."""
        # The mod-97 check first: stdnum's validation costs far more, and most candidates fail it.
        if _mod97_ok(candidate) and stdnum_valid(candidate):
            return len(candidate)
        # Grouped text may run into a following group of four ("NO93 8601 1117 947 2024"): drop groups.
        cut = candidate.rfind(" ")
        while cut > 4:
            if _mod97_ok(candidate[:cut]) and stdnum_valid(candidate[:cut]):
                return cut
            cut = candidate.rfind(" ", 0, cut)
        return 0
