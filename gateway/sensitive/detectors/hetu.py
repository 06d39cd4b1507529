"""Finnish personal identity code (HETU): ``DDMMYYCZZZQ``, a date, a century sign, an individual number, a check.

Century signs: ``+`` (1800s), ``-`` and since 2023 ``Y X W V U`` (1900s),
``A`` and since 2023 ``B C D E F`` (2000s). The check character is the
nine digits mod 31 over ``0-9A-Y`` without ``G I O Q Z``; python-stdnum
(which knows the 2023 signs) checks date, sign and check. Individual numbers
900-999 (temporary and test codes) are reported too; 000 and 001 are never
issued.

A HETU with a letter (sign or check) is distinctive (0.9); one written
``DDMMYY-NNNN`` with a digit check shares the Danish CPR shape (0.8, still
above the CPR's 0.6 without context); ``DDMMYY+NNNN`` (born in the 1800s)
is the shape of a Swedish centenarian's personnummer, which wins it (0.7
against 0.8). Letters are accepted in either case.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from stdnum.fi import hetu

from ..base import Detection
from ..context import COMMON_NEGATIVE, CONTEXT_REACH, LEFT_EDGE, RIGHT_EDGE, Context, Cue, merge
from ..scanner import HETU_ID

_PATTERN = re.compile(
    LEFT_EDGE + r"[0-9]{6}(?P<sign>[-+A-FU-Y])[0-9]{3}(?P<check>[0-9A-FHJ-NPR-Y])" + RIGHT_EDGE,
    re.IGNORECASE,
)

POSITIVE = {
    "fi": ("henkilötunnu*", "hetu", "sotu", "sosiaaliturvatunnu*", "henkilötun*", "htun"),
    "sv": ("personbeteckning*",),
    "en": ("personal identity code*", "personal identity number*", "personal id*", "identity code*",
           "national id*", "social security number*", "ssn"),
}
# The other Nordic IDs sharing the shape.
NEGATIVE = {
    "da": ("cpr*", "cpr-nr", "cpr-nr.", "cpr-nummer*"),
    "nb": ("fødselsnummer*", "d-nummer*"),
    "sv": ("samordningsnummer*",),
}

DISTINCT = {Cue.POSITIVE: 0.98, Cue.NONE: 0.9, Cue.NEGATIVE: 0.5}
PLAIN = {Cue.POSITIVE: 0.95, Cue.NONE: 0.8, Cue.NEGATIVE: 0.4}
SHARED = {Cue.POSITIVE: 0.95, Cue.NONE: 0.7, Cue.NEGATIVE: 0.3}

_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"  # the nine digits mod 31


class HetuDetector:
    """Finnish personal identity codes (``fi_hetu``)."""

    kinds: ClassVar[tuple[str, ...]] = ("fi_hetu",)
    context_reach: ClassVar[int] = CONTEXT_REACH
    trigger: ClassVar[str] = HETU_ID
    bounded: ClassVar[bool] = True

    def __init__(self) -> None:
        self._context = Context(POSITIVE, merge(COMMON_NEGATIVE, NEGATIVE), country="fi")

    def find(self, text: str, start: int = 0, end: int | None = None) -> Iterator[Detection]:
        end = len(text) if end is None else end
        for match in _PATTERN.finditer(text, start, end):
            value = match[0]
            # The check character first: stdnum's validation costs more, and most shapes fail it.
            if _CHECK[int(value[:6] + value[7:10]) % 31] != value[10].upper():
                continue
            if not hetu.is_valid(value, allow_temporary=True):
                continue
            a, b = match.span()
            sign, check = match["sign"], match["check"]
            table = DISTINCT if sign not in "-+" or not check.isdigit() else PLAIN if sign == "-" else SHARED
            yield Detection("fi_hetu", a, b, table[self._context.cue(text, a, b)])
