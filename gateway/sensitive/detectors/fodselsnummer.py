"""Norwegian fødselsnummer, D-number and H-number: 11 digits, ``DDMMYYIIICC`` (or ``DDMMYY IIICC``).

A D-number (foreigners, temporary residents) adds 4 to the first digit, an
H-number (a temporary number given by health services) adds 4 to the third;
Skatteetaten's synthetic test numbers (Tenor) add 8 to the third and are
reported as the number they stand in for. The individual number ``III`` sets
the century; ``CC`` are two mod-11 check digits (python-stdnum's).

H-numbers have their own kind, ``no_hnr``: they are not issued by the
population register and a policy may treat them apart. FH-numbers (first
digit 8 or 9, no date) are not detected. A birth date in the future is not
rejected: the detector does not read the clock.

The dotted bank account format ``NNNN.NN.NNNNN`` (mod 11 too) never matches
the pattern; an undotted one is caught by its date and second check digit,
or lowered by ``konto``/``kontonummer`` nearby.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from typing import ClassVar

from stdnum.no import fodselsnummer

from ..base import Detection
from ..context import COMMON_NEGATIVE, CONTEXT_REACH, LEFT_EDGE, RIGHT_EDGE, Context, Cue, merge
from ..scanner import FNR_ID

_PATTERN = re.compile(LEFT_EDGE + r"(?P<head>[0-9]{6})[ \u00a0-]?(?P<tail>[0-9]{5})" + RIGHT_EDGE)

POSITIVE = {
    "nb": ("fødselsnummer*", "fødselsnr", "f.nr.", "f.nr", "fnr", "fødselsnr.", "personnummer*", "personnr",
           "personnr.", "pnr", "d-nummer*", "d-nr", "d-nr.", "dnr", "h-nummer*", "h-nr",
           "identitetsnummer*", "id-nummer*", "personidentifikator*"),
    "nn": ("fødselsnummer*", "personnummer*"),
    "sv": ("d-nummer*", "h-nummer*"),
    "fi": ("d-numero*", "h-numero*"),
    "en": ("national id*", "national identity number*", "national identification number*",
           "personal identity number*", "personal id*", "identity number*", "id number*", "birth number*",
           "social security number*", "ssn", "d number*", "d-number*", "h number*", "h-number*"),
}
NEGATIVE: dict[str, tuple[str, ...]] = {}

CONFIDENCE = {Cue.POSITIVE: 0.95, Cue.NONE: 0.8, Cue.NEGATIVE: 0.4}


def _century(individual: int, year: int) -> int | None:
    if individual < 500:
        return 1900
    if individual < 750 and year >= 54:
        return 1800
    if year < 40:
        return 2000
    if individual >= 900:
        return 1900
    return None


def classify(number: str) -> str | None:
    """The kind of an 11-digit number (``no_fnr``, ``no_dnr``, ``no_hnr``), or None if it is not one."""
    if number[9] != fodselsnummer.calc_check_digit1(number[:9]):
        return None
    if number[10] != fodselsnummer.calc_check_digit2(number[:10]):
        return None
    day, month, year = int(number[0:2]), int(number[2:4]), int(number[4:6])
    kind = "no_fnr"
    if day > 40:
        kind, day = "no_dnr", day - 40
    if month > 80:  # a synthetic test number
        month -= 80
    elif month > 40:
        if kind == "no_dnr":
            return None
        kind, month = "no_hnr", month - 40
    century = _century(int(number[6:9]), year)
    if century is None:
        return None
    try:
        datetime.date(century + year, month, day)
    except ValueError:
        return None
    return kind


class FodselsnummerDetector:
    """Norwegian fødselsnummer (``no_fnr``), D-number (``no_dnr``) and H-number (``no_hnr``)."""

    kinds: ClassVar[tuple[str, ...]] = ("no_fnr", "no_dnr", "no_hnr")
    context_reach: ClassVar[int] = CONTEXT_REACH
    trigger: ClassVar[str] = FNR_ID
    bounded: ClassVar[bool] = True

    def __init__(self) -> None:
        self._context = Context(POSITIVE, merge(COMMON_NEGATIVE, NEGATIVE), country="no")

    def find(self, text: str, start: int = 0, end: int | None = None) -> Iterator[Detection]:
        end = len(text) if end is None else end
        for match in _PATTERN.finditer(text, start, end):
            kind = classify(match["head"] + match["tail"])
            if kind is None:
                continue
            a, b = match.span()
            yield Detection(kind, a, b, CONFIDENCE[self._context.cue(text, a, b)])
