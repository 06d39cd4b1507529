"""Swedish personnummer and samordningsnummer: ``[CC]YYMMDD-NNNC``, Luhn over the last ten digits.

Written with 10 digits (``-``, or ``+`` from the year a person turns 100, or
no separator) or with 12 (the century first, ``-`` or no separator). A
samordningsnummer adds 60 to the day. python-stdnum checks the Luhn digit;
the date is checked here (stdnum rejects samordningsnummer and reads the
clock to guess a century; here a 10-digit date only has to exist in one of
the two centuries its separator allows).

A 10-digit value without separator, or ``YYMMDD-NNNN`` that is also a valid
Danish CPR date, is a plainer shape (0.7 without context; a phone number
``07XXXXXXXX`` may pass Luhn). Luhn is evidence for Sweden, so a shared word
(``personnummer``) gives 0.95, above the Danish detector's 0.9; a Danish or
Finnish word is negative here.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from typing import ClassVar

from ..base import Detection
from ..context import COMMON_NEGATIVE, CONTEXT_REACH, LEFT_EDGE, RIGHT_EDGE, Context, Cue, merge
from ..scanner import PNR_ID
from .card import luhn_ok
from .cpr import birth_date as cpr_birth_date

_PATTERN = re.compile(
    LEFT_EDGE
    + r"(?:(?P<century>1[89]|20)(?P<long>[0-9]{6})-?|(?P<short>[0-9]{6})(?P<sep>[-+]?))(?P<serial>[0-9]{4})"
    + RIGHT_EDGE
)

POSITIVE = {
    "sv": ("personnummer*", "personnumret", "personnr", "personnr.", "pnr", "pers.nr", "pers.nr.",
           "samordningsnummer*", "samordningsnumret", "samordningsnr", "identitetsnummer*", "födelsenummer*"),
    "en": ("personal identity number*", "personal id*", "national id*", "identity number*",
           "coordination number*", "personal number*", "social security number*", "ssn"),
    "fi": ("samordningsnumero*",),
}
# The other Nordic IDs sharing the shape.
NEGATIVE = {
    "da": ("cpr*", "cpr-nr", "cpr-nr.", "cpr-nummer*", "cprnr"),
    "fi": ("henkilötunnu*", "hetu", "sotu"),
    "nb": ("fødselsnummer*", "d-nummer*"),
}

DISTINCT = {Cue.POSITIVE: 0.95, Cue.NONE: 0.8, Cue.NEGATIVE: 0.4}
PLAIN = {Cue.POSITIVE: 0.95, Cue.NONE: 0.7, Cue.NEGATIVE: 0.3}


def _date_exists(years: tuple[int, ...], month: int, day: int) -> bool:
    for year in years:
        try:
            datetime.date(year, month, day)
        except ValueError:
            continue
        return True
    return False


class PersonnummerDetector:
    """Swedish personnummer (``se_pnr``) and samordningsnummer (``se_samordning``)."""

    kinds: ClassVar[tuple[str, ...]] = ("se_pnr", "se_samordning")
    context_reach: ClassVar[int] = CONTEXT_REACH
    trigger: ClassVar[str] = PNR_ID
    bounded: ClassVar[bool] = True

    def __init__(self) -> None:
        self._context = Context(POSITIVE, merge(COMMON_NEGATIVE, NEGATIVE), country="se")

    def find(self, text: str, start: int = 0, end: int | None = None) -> Iterator[Detection]:
        end = len(text) if end is None else end
        for match in _PATTERN.finditer(text, start, end):
            century, sep = match["century"], match["sep"]
            date = match["long"] or match["short"]
            year, month, day = int(date[0:2]), int(date[2:4]), int(date[4:6])
            kind = "se_pnr"
            if day > 60:
                kind, day = "se_samordning", day - 60
            if century:
                years: tuple[int, ...] = (int(century) * 100 + year,)
            elif sep == "+":
                years = (1800 + year, 1900 + year)
            else:
                years = (1900 + year, 2000 + year)
            # The date before the Luhn digit: it is cheaper, and most other IDs' dates fail it.
            if not _date_exists(years, month, day) or not luhn_ok(date + match["serial"]):
                continue
            plain = not century and (not sep or (sep == "-" and cpr_birth_date(date + match["serial"]) is not None))
            a, b = match.span()
            table = PLAIN if plain else DISTINCT
            yield Detection(kind, a, b, table[self._context.cue(text, a, b)])
