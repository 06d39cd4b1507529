"""Context words: the words around a value that make it more or less likely to be what its shape says.

The same digits can be a national ID, a bank account, an order number or a
phone number; the label in front of them usually says which. A ``Context``
holds one detector's positive and negative words (per language, merged: the
language of a text is not known), compiled once into one pattern, and looks
for them in a bounded window before the value (labels come first) and a
little after it (``01019012345 (fnr)``). The nearest word wins, a word
after the value counting at twice its distance (after a value more often
comes the label of the next one: ``fnr: 01019012345 tlf: 22334455``); a tie
goes to the word before.

Words match case-insensitively as whole words; a word ending in ``*`` is a
stem and matches any word it begins (``henkilötunnu*`` finds
``henkilötunnuksen``, ``kontonummer*`` finds ``kontonummeret``); a space
matches any run of whitespace.

Confidence scale shared by the detectors (``Detection.confidence``), by
what the nearest context word says (positive / none / negative):

- a checksum-valid value: 0.95 / 0.8 / 0.4 (fødselsnummer, personnummer,
  a HETU written ``DDMMYY-NNNN``);
- a shape that is distinctive on its own (a HETU with a letter): 0.98 / 0.9 / 0.5;
- a checksum-valid value whose shape is shared with plainer numbers or a
  likelier ID (a Swedish personnummer without separator, or one that is also
  a valid Danish CPR; a HETU ``DDMMYY+NNNN``): 0.95 / 0.7 / 0.3;
- a Danish CPR (no checksum since 2007): with a hyphen 0.9 / 0.6 / 0.3,
  without one 0.9 / not reported / not reported.

Where two detectors report the same span (``121212-1212`` is a CPR shape
and a valid personnummer), the evidence decides: a Danish word makes the
CPR 0.9 and the personnummer 0.3; no word or a shared one
(``personnummer``) leaves the Luhn-checked personnummer above the CPR.

Values that fail their checksum or date are not reported at all.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping

# What may stand right next to a value: not a letter or digit, and not a
# digit joined by a number separator (``12.01019012345``, ``01019012345-7``),
# so a value is never cut out of a longer number. For a detector's pattern:
# ``LEFT_EDGE + value + RIGHT_EDGE``.
LEFT_EDGE = r"(?<!\w)(?<![0-9][.,/-])"
RIGHT_EDGE = r"(?!\w)(?![.,/-][0-9])"

Words = Mapping[str, Iterable[str]]

# How far from a value a ``Context`` with the default windows reads, at most:
# a detector's ``context_reach``, so a scanner that runs it on windows of a
# text gives it all the context it would see in the whole text.
CONTEXT_REACH = 96

# Labels of the numbers that look like IDs: accounts, orders, invoices,
# phones, references. Negative for every national ID detector.
COMMON_NEGATIVE: dict[str, tuple[str, ...]] = {
    "en": ("account*", "acct", "order*", "invoice*", "phone*", "tel", "telephone", "mobile", "fax", "ref",
           "reference*", "tracking", "imei", "serial", "customer no", "iban", "swift", "bic"),
    "nb": ("kontonummer*", "konto*", "bankkonto*", "kontonr", "ordre*", "faktura*", "tlf", "telefon*",
           "mobil*", "kundenummer*", "kundenr", "referanse*", "kid-nummer*", "kidnummer*", "kid-nr",
           "saksnummer*", "orgnr", "org.nr", "organisasjonsnummer*"),
    "sv": ("kontonummer*", "konto*", "bankkonto*", "clearingnummer*", "order*", "ordernummer*", "faktura*",
           "telefon*", "tel", "mobil*", "kundnummer*", "referens*", "ocr", "bankgiro*", "plusgiro*",
           "organisationsnummer*", "orgnr"),
    "da": ("kontonummer*", "konto*", "reg.nr", "regnr", "ordre*", "faktura*", "tlf", "telefon*", "mobil*",
           "kundenummer*", "reference*", "cvr*", "se-nr"),
    "fi": ("tilinumero*", "tili", "tilaus*", "lasku*", "puhelin*", "puh", "asiakasnumero*", "viite*",
           "y-tunnus*"),
}


class Cue(enum.IntEnum):
    """What the nearest context word says about a value."""

    NEGATIVE = -1
    NONE = 0
    POSITIVE = 1


def merge(*maps: Words) -> dict[str, tuple[str, ...]]:
    """The union of several language -> words maps."""
    merged: dict[str, list[str]] = {}
    for words in maps:
        for language, items in words.items():
            merged.setdefault(language, []).extend(items)
    return {language: tuple(dict.fromkeys(items)) for language, items in merged.items()}


def _alternative(word: str) -> str:
    stem = word.endswith("*")
    body = re.escape(word.rstrip("*").strip().lower()).replace(r"\ ", r"\s+")
    return body + (r"\w*" if stem else "")


class Context:
    """One detector's context words, compiled once; ``cue`` and ``adjust`` are pure."""

    __slots__ = ("_pattern", "_before", "_after", "_reach", "_boost", "_penalty")

    def __init__(
        self,
        positive: Words,
        negative: Words,
        *,
        before: int = 48,
        after: int = 16,
        boost: float = 0.15,
        penalty: float = 0.4,
    ) -> None:
        pos = sorted({w for words in positive.values() for w in words}, key=len, reverse=True)
        neg = sorted({w for words in negative.values() for w in words} - set(pos), key=len, reverse=True)
        if not pos and not neg:
            raise ValueError("a context needs at least one word")
        groups = []
        for name, words in (("pos", pos), ("neg", neg)):
            if words:
                groups.append(f"(?P<{name}>{'|'.join(_alternative(w) for w in words)})")
        self._pattern = re.compile(r"(?<!\w)(?:" + "|".join(groups) + r")(?!\w)", re.IGNORECASE)
        self._before = before
        self._after = after
        # How far past the window a word may run, so a word at its edge is matched whole.
        self._reach = max(len(w) for w in pos + neg) + 8
        self._boost = boost
        self._penalty = penalty

    @property
    def reach(self) -> int:
        """How many characters before or after a value ``cue`` reads, at most (a detector's ``context_reach``)."""
        return max(self._before, self._after) + self._reach + 1  # + 1: the look-behind of a word

    def cue(self, text: str, start: int, end: int) -> Cue:
        """The nearest context word to ``text[start:end]``: before it (within ``before``) or after (within ``after``)."""
        best: Cue = Cue.NONE
        distance = self._before + 1
        for match in self._pattern.finditer(text, max(0, start - self._before - self._reach), start):
            if match.end() >= start - self._before:
                best = Cue.POSITIVE if match.lastgroup == "pos" else Cue.NEGATIVE
                distance = start - match.end()
        following = self._pattern.search(text, end, min(len(text), end + self._after + self._reach))
        if (following is not None and following.start() - end <= self._after
                and 2 * (following.start() - end) < distance):
            best = Cue.POSITIVE if following.lastgroup == "pos" else Cue.NEGATIVE
        return best

    def adjust(self, text: str, start: int, end: int) -> float:
        """The change of confidence the context of ``text[start:end]`` makes: ``+boost``, ``-penalty`` or 0."""
        return self.apply(self.cue(text, start, end))

    def apply(self, cue: Cue) -> float:
        """The change of confidence a cue makes."""
        if cue is Cue.POSITIVE:
            return self._boost
        if cue is Cue.NEGATIVE:
            return -self._penalty
        return 0.0


def clamp(confidence: float) -> float:
    """A confidence within 0..1, rounded so equal evidence compares equal."""
    return round(min(1.0, max(0.0, confidence)), 4)
