"""Phone numbers (``phone``): E.164 and national formats, validated by ``phonenumbers``.

A cheap regex finds candidates (digits with single spaces, dashes or
parentheses, an optional ``+`` or ``00``); only those are parsed. A number
with ``+``/``00`` is parsed as international; otherwise it must be a valid
number of one of the default regions (NO, SE, DK, FI, GB), in order, and in
regions with a trunk prefix (0 in SE, FI, GB) it must start with it.

Lookalikes that are numbers of another kind are not candidates: dates
(``2024-03-12``, ``12-03-2024``; dotted forms never are), Swedish, Danish and
Finnish ID shapes (``900101-1234``, ``19900101-1234``), a bare run of 11
digits (Norwegian national IDs; an 11-digit national phone number is printed
with spaces), and a number right after an order, invoice or ticket word.

The scanner's trigger (:func:`digits_trigger`) knows these shapes and the
longest national number too, so dates, ID shapes, IMEIs and card numbers
without spaces never reach this detector. A window may start inside what
the whole text reads as one candidate: ``find`` reads from a place no
candidate goes across, as the whole text does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import ClassVar

import phonenumbers

from ..base import Detection

_CANDIDATE = re.compile(r"(?<![\w+#/.,:-])(?:\+|\b00)?\(?\d(?:[ \-()]{0,2}\d){5,16}(?![\w]|[.,/:-]\d)")
_LOOKALIKE = re.compile(
    r"\d{4}-\d{2}-\d{2}|\d{2}-\d{2}-\d{4}|\d{6}[-+]\d{4}|\d{8}[-+]\d{4}|\d{11}"
)
# The same shapes as digit groups joined by single dashes (a candidate holds no "+" after its start).
LOOKALIKE_GROUPS = ((4, 2, 2), (2, 2, 4), (6, 4), (8, 4), (11,))
_NOT_A_PHONE_WORD = re.compile(
    r"(?:order|ordre|ordrenr|order\s*no|invoice|faktura|fakturanr|lasku|tilaus|ticket|sak|saksnr|ärende|case"
    r"|kundenr|kundenummer|kundnummer|asiakasnumero|ref|imei|kid|konto|kontonr|account)\.?\s*(?:nr\.?|no\.?|number|#)?"
    r"\s*[:#]?\s*\Z",
    re.IGNORECASE,
)
_WORD_REACH = 24
_NON_DIGIT = re.compile(r"\D")
DEFAULT_REGIONS = ("NO", "SE", "DK", "FI", "GB")
_STEP = r"(?:[ \-()]{0,2}[0-9])"  # _CANDIDATE's: separators, then the next digit
# What a candidate is followed by (its look-ahead): not a letter or digit, nor ".,/:-" and a digit.
_AFTER = r"(?:$|[^0-9A-Za-z_.,/:\-]|[.,/:\-](?:$|[^0-9]))"


def _span(low: int, high: int) -> str:
    return f"[0-9]{{{low}}}" if low == high else f"[0-9]{{{low},{high}}}"


def _dashed(national: int) -> list[str]:
    """National candidates of digit groups joined by single dashes (or one group), but not :data:`LOOKALIKE_GROUPS`.

    One to three groups are listed by their lengths (at most ``national`` digits in all, at least
    6); four or more are never a lookalike.
    """
    refused = set(LOOKALIKE_GROUPS)
    shapes: list[str] = []

    def lengths(low: int, high: int, taken: tuple[int, ...]) -> list[tuple[int, int]]:
        allowed = [n for n in range(max(1, low), high + 1) if (*taken, n) not in refused]
        runs: list[tuple[int, int]] = []
        for n in allowed:
            if runs and runs[-1][1] == n - 1:
                runs[-1] = (runs[-1][0], n)
            else:
                runs.append((n, n))
        return runs

    shapes += [_span(a, b) for a, b in lengths(6, national, ())]
    for first in range(1, national):
        shapes += [f"[0-9]{{{first}}}-{_span(a, b)}" for a, b in lengths(6 - first, national - first, (first,))]
        for second in range(1, national - first):
            rest = national - first - second
            shapes += [f"[0-9]{{{first}}}-[0-9]{{{second}}}-{_span(a, b)}"
                       for a, b in lengths(6 - first - second, rest, (first, second))]
    shapes.append(r"[0-9]+(?:-[0-9]+){3,}")
    return shapes


def digits_trigger(national: int) -> str:
    """Where a phone number can be (the scanner's trigger): a candidate ``_is_phone`` may accept, and what follows it.

    After what may stand before a candidate: ``+`` and at most 15 digits; ``00`` and at most 15; or
    at most ``national`` digits, starting with ``(``, or with a separator other than one dash
    somewhere, or in dashed groups that are not a lookalike (dates, ID shapes: refused whole). A
    longer run of digits (an IMEI, a card number without spaces) has none of these.
    """
    special = r"(?:[ ()][ \-()]?|-[ \-()])"  # a separator that is not a single dash
    shapes = [rf"\+\(?[0-9]{_STEP}{{5,14}}", rf"00{_STEP}{{4,13}}"]
    if national >= 6:  # else no national number is a candidate's length
        shapes.append(rf"\([0-9]{_STEP}{{5,{national - 1}}}")
        for before in range(1, national):  # digits before the first such separator
            low, high = max(0, 5 - before), national - before - 1
            shapes.append(rf"[0-9](?:-?[0-9]){{{before - 1}}}{special}[0-9]{_STEP}{{{low},{high}}}")
        shapes += _dashed(national)
    return r"(?:^|[^0-9A-Za-z_+#/.,:\-])(?:" + "|".join(shapes) + ")" + _AFTER


def _origin(text: str, i: int) -> int:
    """The nearest place at or before ``i`` that no candidate goes across.

    After a character no candidate holds, or after three separators that cannot start one
    (inside a candidate, at most two stand between digits; before its first digit only ``+``,
    ``00`` and ``(``).
    """
    seps = 0
    while i > 0:
        char = text[i - 1]
        if char in " -)":
            seps += 1
            if seps == 3:
                return i + 2
        elif char.isdecimal() or char in "(+":  # \d
            seps = 0
        else:
            return i
        i -= 1
    return 0


class PhoneDetector:
    """Valid phone numbers, international or national in one of ``regions``."""

    kinds: ClassVar[tuple[str, ...]] = ("phone",)
    context_reach: ClassVar[int] = _WORD_REACH
    bounded: ClassVar[bool] = True
    international_confidence: ClassVar[float] = 0.8
    national_confidence: ClassVar[float] = 0.6

    def __init__(self, regions: Sequence[str] = DEFAULT_REGIONS) -> None:
        known = phonenumbers.SUPPORTED_REGIONS
        unknown = [r for r in regions if r not in known]
        if unknown:
            raise ValueError(f"unknown phone region(s): {', '.join(unknown)}")
        self.regions = tuple(regions)
        # Per region: trunk prefix, country code, lengths of a national significant number.
        self._national: dict[str, tuple[str, int, frozenset[int]]] = {}
        for region in self.regions:
            metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
            if metadata is None or metadata.country_code is None:
                raise ValueError(f"no phone metadata for region {region}")
            general = metadata.general_desc
            lengths = frozenset(general.possible_length or ()) if general is not None else frozenset()
            self._national[region] = (metadata.national_prefix or "", metadata.country_code, lengths)
        # No national number is longer (IMEIs and card numbers are): those need no lookup.
        self._longest = max((len(t) + max(n, default=0) for t, _, n in self._national.values()), default=0)
        self.trigger = digits_trigger(self._longest)
        # What ``_is_phone`` refuses on its shape alone (most candidates: IMEIs, cards, dates, IDs),
        # refused in one match before any other work.
        self._refused = re.compile(rf"(?:{_LOOKALIKE.pattern})|(?!00)\d{{{self._longest + 1},}}")

    def find(self, text: str, start: int = 0, end: int | None = None) -> Iterator[Detection]:
        end = len(text) if end is None else end
        refused = self._refused.fullmatch
        # Candidates are read as in the whole text: from a place no candidate goes across (one
        # that starts before ``start`` is not reported; a search from inside it would read another).
        origin = _origin(text, start)
        for match in _CANDIDATE.finditer(text, origin, end):
            if match.start() < start:
                continue
            piece = match.group()
            if refused(piece):
                continue
            span = self._valid_span(piece)
            if span is None:
                continue
            a, b = match.start() + span[0], match.start() + span[1]
            if text[a] != "+" and _NOT_A_PHONE_WORD.search(text, max(0, a - _WORD_REACH), a):
                continue
            international = text.startswith(("+", "00"), a)
            confidence = self.international_confidence if international else self.national_confidence
            yield Detection("phone", a, b, confidence)

    def _valid_span(self, candidate: str) -> tuple[int, int] | None:
        """The whole candidate when it is a valid number (a part of a longer number is not a phone)."""
        return (0, len(candidate)) if self._is_phone(candidate) else None

    def _is_phone(self, piece: str) -> bool:
        digits = _NON_DIGIT.sub("", piece)
        if not 6 <= len(digits) <= 15 or piece.count("(") != piece.count(")"):
            return False
        international = piece.startswith("+") or piece.startswith("00")
        if not international and len(digits) > self._longest:
            return False
        if _LOOKALIKE.fullmatch(piece):
            return False
        try:
            if international:
                number = phonenumbers.parse("+" + piece[2:] if piece.startswith("00") else piece, None)
                return bool(phonenumbers.is_valid_number(number))
            for region in self.regions:
                trunk, country, lengths = self._national[region]
                nsn = digits[len(trunk):] if trunk else digits
                if (trunk and not digits.startswith(trunk)) or len(nsn) not in lengths:
                    continue
                # Built directly, not parsed: the digits are known, and parsing costs most of the time.
                number = phonenumbers.PhoneNumber(country_code=country, national_number=int(nsn))
                if phonenumbers.is_valid_number_for_region(number, region):
                    return True
        except phonenumbers.NumberParseException:
            return False
        return False
