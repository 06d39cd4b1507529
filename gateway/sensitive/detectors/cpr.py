"""Danish CPR number: ``DDMMYY-SSSS``, a birth date and a serial whose first digit sets the century.

The mod-11 check was given up in 2007, so any valid date followed by four
digits is a CPR shape: a bare ten-digit run is reported only next to a
positive context word (``CPR``, ``personnummer``), a hyphenated one also
without (0.6; 0.9 with a positive word, 0.3 with a negative one).

``DDMMYY-SSSS`` is also the shape of a Swedish personnummer (``YYMMDD-SSSS``)
and of a HETU with a digit check character. This detector reports every
CPR shape; where the value passes the other country's check too, that
detector reports it with a higher confidence unless a Danish word (``CPR``)
is near, which is negative for them.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from typing import ClassVar

from ..base import Detection
from ..context import COMMON_NEGATIVE, CONTEXT_REACH, LEFT_EDGE, RIGHT_EDGE, Context, Cue, merge
from ..scanner import CPR_ID

_PATTERN = re.compile(LEFT_EDGE + r"(?P<date>[0-9]{6})(?P<sep>-?)(?P<serial>[0-9]{4})" + RIGHT_EDGE)

POSITIVE = {
    "da": ("cpr*", "cpr-nr", "cpr-nr.", "cpr-nummer*", "cprnr", "personnummer*", "personnr", "personnr.",
           "cpr nummer*"),
    "en": ("cpr", "national id*", "personal identity number*", "personal id*", "civil registration number*",
           "identity number*", "social security number*", "ssn"),
}
# Words Danish shares with Swedish: next to one of them, the language of the text around decides.
SHARED = frozenset({"personnummer*", "personnr", "personnr."})
# Common words of one of the two languages and not the other.
_SWEDISH = re.compile(r"(?<!\w)(?:jag|inte|och|är|mitt|ärende\w*|sedan|också|fakturan|paketet|kommit|hälsningar)(?!\w)",
                      re.IGNORECASE)
_DANISH = re.compile(r"(?<!\w)(?:jeg|ikke|og|er|mit|sagen|regningen|pakken|kommet|hilsen|venlig)(?!\w)", re.IGNORECASE)
_LANGUAGE_REACH = 240
# The other Nordic IDs sharing the shape.
NEGATIVE = {
    "sv": ("samordningsnummer*", "samordningsnr"),
    "nb": ("fødselsnummer*", "d-nummer*"),
    "fi": ("henkilötunnu*", "hetu", "sotu", "samordningsnumero*"),
    "en": ("coordination number*",),
}

HYPHENATED = {Cue.POSITIVE: 0.9, Cue.NONE: 0.6, Cue.NEGATIVE: 0.3}
BARE = {Cue.POSITIVE: 0.9}


def birth_date(digits: str) -> datetime.date | None:
    """The birth date in a 10-digit CPR (the 7th digit and the year set the century), or None if there is none."""
    day, month, year, seventh = int(digits[0:2]), int(digits[2:4]), int(digits[4:6]), digits[6]
    if seventh in "0123":
        year += 1900
    elif seventh in "49":
        year += 2000 if year <= 36 else 1900
    else:
        year += 2000 if year <= 57 else 1800
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


class CprDetector:
    """Danish CPR numbers (``dk_cpr``)."""

    kinds: ClassVar[tuple[str, ...]] = ("dk_cpr",)
    context_reach: ClassVar[int] = CONTEXT_REACH
    trigger: ClassVar[str] = CPR_ID
    bounded: ClassVar[bool] = True

    def __init__(self) -> None:
        self._context = Context(POSITIVE, merge(COMMON_NEGATIVE, NEGATIVE), country="dk")
        distinct = {lang: tuple(w for w in words if w not in SHARED) for lang, words in POSITIVE.items()}
        self._distinct = Context(distinct, {}, country="dk")

    def _cue(self, text: str, a: int, b: int) -> Cue:
        cue = self._context.cue(text, a, b)
        if cue is Cue.POSITIVE and self._distinct.cue(text, a, b) is not Cue.POSITIVE:
            # Only "personnummer": Danish or Swedish, as the text around is written.
            around = text[max(0, a - _LANGUAGE_REACH):b + _LANGUAGE_REACH]
            if len(_SWEDISH.findall(around)) > len(_DANISH.findall(around)):
                return Cue.NEGATIVE
        return cue

    def find(self, text: str, start: int = 0, end: int | None = None) -> Iterator[Detection]:
        end = len(text) if end is None else end
        for match in _PATTERN.finditer(text, start, end):
            if birth_date(match["date"] + match["serial"]) is None:
                continue
            a, b = match.span()
            table = HYPHENATED if match["sep"] else BARE
            confidence = table.get(self._cue(text, a, b))
            if confidence is not None:
                yield Detection("dk_cpr", a, b, confidence)
