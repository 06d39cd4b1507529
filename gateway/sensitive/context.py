"""Context words: the words around a value that make it more or less likely to be what its shape says.

The same digits can be a national ID, a bank account, an order number or a
phone number; the label in front of them usually says which. A ``Context``
holds one detector's positive and negative words (per language, merged: the
language of a text is not known), compiled once into one pattern, and looks
for them in a bounded window before the value (labels come first) and a
little after it (``01019012345 (fnr)``). The nearest word wins, a word
after the value counting at twice its distance (after a value more often
comes the label of the next one: ``fnr: 01019012345 tlf: 22334455``); a tie
goes to the word before. A word after the value is not read past the end
of its sentence (``01019012345. Tlf 22334455``: the label of what follows).

The word pattern (a backtracking regex over up to a hundred characters)
runs only from where a word could start: RE2 looks for the words' first
parts, in either case, in the Latin-1 bytes of the window around the value
(a window with a character outside Latin-1 is searched whole, as one of
them may be a letter of a word in another case: ``ſ`` is an ``s``).

A national ID named with its country (``finsk personnummer``, ``norjalainen
henkilötunnus``, ``Swedish personal number``: :data:`NATIONALITY` before an
ID word of any language, :data:`ID_WORDS`) is a phrase of its own: positive
for the detector of that country (``Context(..., country="fi")``), negative
for the other countries' detectors, whatever the language of the ID word.

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
import functools
import re
from collections.abc import Iterable, Mapping

from . import latin1

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


# Country adjectives, by the detector's country: Norwegian/Danish, Swedish, Finnish (nominative and
# genitive) and English forms.
NATIONALITY: dict[str, tuple[str, ...]] = {
    "no": ("norsk", "norske", "norskt", "norska", "norjalainen", "norjalaisen", "norwegian"),
    "se": ("svensk", "svenske", "svenskt", "svenska", "ruotsalainen", "ruotsalaisen", "swedish"),
    "fi": ("finsk", "finske", "finskt", "finska", "suomalainen", "suomalaisen", "finnish"),
    "dk": ("dansk", "danske", "danskt", "danska", "tanskalainen", "tanskalaisen", "danish"),
}
# What a national ID is called, in any of the languages: after a country adjective, the country decides.
ID_WORDS = (
    "personnummer*", "personnumret", "personnr", "personnr.", "fødselsnummer*", "fødselsnr", "födelsenummer*",
    "personbeteckning*", "identitetsnummer*", "id-nummer*", "henkilötunnu*", "hetu", "cpr*", "cpr-nr.",
    "personal number*", "personal identity number*", "personal identity code*", "personal id*", "national id*",
    "identity number*", "id number*", "social security number*", "ssn",
)

# A sentence ends between a value and a word after it: the word belongs to what follows.
_SENTENCE_END = re.compile(r"[.!?;](?:\s|\Z)|\n")


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


class _Node(dict[str, "_Node"]):
    end = False
    stem = False


def _trie(words: Iterable[str]) -> str:
    """The words as one pattern that shares their common beginnings (a regex tries alternatives one by one).

    Where one word continues another, the longer one is tried first, as in a list sorted
    longest first.
    """
    root = _Node()
    for word in words:
        node = root
        body = word.rstrip("*").strip().lower()
        for char in body:
            node = node.setdefault(r"\s+" if char == " " else re.escape(char), _Node())
        node.end = True
        node.stem = node.stem or word.endswith("*")
    return _emit(root)


def _emit(node: _Node) -> str:
    branches = [token + _emit(child) for token, child in node.items()]
    if node.stem:
        branches.append(r"\w*")
    if not branches:
        return ""
    optional = node.end and not node.stem
    if len(branches) == 1 and not optional:
        return branches[0]
    return "(?:" + "|".join(branches) + ")" + ("?" if optional else "")


def _caseless(literal: str) -> str:
    """An RE2 pattern for ``literal`` over Latin-1 bytes matching what ``re.IGNORECASE`` matches in a Latin-1 ``str``.

    (RE2's own case folding in Latin-1 mode covers ASCII letters only.)
    """
    return "".join(map(_caseless_char, literal))


@functools.cache
def _caseless_char(char: str) -> str:
    same = [i for i in range(256) if re.fullmatch(re.escape(char), chr(i), re.IGNORECASE)]
    codes = "".join(f"\\x{i:02x}" for i in same)
    return codes if len(same) == 1 else f"[{codes}]"


def _phrase(adjectives: Iterable[str]) -> str:
    """One of ``adjectives`` and one of the :data:`ID_WORDS`, as a pattern."""
    return _trie(adjectives) + r"\s+" + _trie(ID_WORDS)


class Context:
    """One detector's context words, compiled once; ``cue`` and ``adjust`` are pure."""

    __slots__ = ("_after", "_before", "_boost", "_locator", "_pattern", "_penalty", "_reach")

    def __init__(
        self,
        positive: Words,
        negative: Words,
        *,
        before: int = 48,
        after: int = 16,
        boost: float = 0.15,
        penalty: float = 0.4,
        country: str | None = None,
    ) -> None:
        pos = sorted({w for words in positive.values() for w in words}, key=len, reverse=True)
        neg = sorted({w for words in negative.values() for w in words} - set(pos), key=len, reverse=True)
        if not pos and not neg:
            raise ValueError("a context needs at least one word")
        if country is not None and country not in NATIONALITY:
            raise ValueError(f"unknown country {country!r}")
        alternatives: dict[str, list[str]] = {"pos": [_trie(pos)] if pos else [], "neg": [_trie(neg)] if neg else []}
        phrase_reach = 0
        if country is not None:
            # First in their group: a phrase starts before its ID word, so it is the match found there.
            others = [a for c, adjectives in NATIONALITY.items() if c != country for a in adjectives]
            alternatives["pos"].insert(0, _phrase(NATIONALITY[country]))
            alternatives["neg"].insert(0, _phrase(others))
            longest = max(len(a) for adjectives in NATIONALITY.values() for a in adjectives)
            phrase_reach = longest + 1 + max(len(w) for w in ID_WORDS)
        groups = []
        for name, items in alternatives.items():
            if items:
                groups.append(f"(?P<{name}>{'|'.join(items)})")
        self._pattern = re.compile(r"(?<!\w)(?:" + "|".join(groups) + r")(?!\w)", re.IGNORECASE)
        # Where a word could start: the first part (up to a space) of every word and adjective, in
        # either case, found by RE2 in the Latin-1 bytes around a value.
        starts = [*pos, *neg, *(a for adjectives in NATIONALITY.values() for a in adjectives)] if country else pos + neg
        self._locator = latin1.Regex("|".join(sorted({_caseless(w.rstrip("*").strip().lower().split(" ")[0])
                                                       for w in starts})))
        self._before = before
        self._after = after
        # How far past the window a word may run, so a word at its edge is matched whole.
        self._reach = max(phrase_reach, *(len(w) for w in pos + neg)) + 8
        self._boost = boost
        self._penalty = penalty

    @property
    def reach(self) -> int:
        """How many characters before or after a value ``cue`` reads, at most (a detector's ``context_reach``)."""
        return max(self._before, self._after) + self._reach + 1  # + 1: the look-behind of a word

    def cue(self, text: str, start: int, end: int) -> Cue:
        """The nearest context word to ``text[start:end]``: before it (within ``before``) or after (within ``after``)."""
        lo = max(0, start - self._before - self._reach)
        try:
            window = text[lo:min(len(text), end + self._after + self._reach)].encode("latin-1")
        except UnicodeEncodeError:  # a character outside Latin-1 may be a word's letter in another case
            return self._nearest(text, start, end, lo, None)
        # No word starts before the first place where a word's first part is written: the pattern
        # is tried from there (on a value without any word near, not at all).
        hit = self._locator.search(window)
        if hit is None:
            return Cue.NONE
        return self._nearest(text, start, end, lo + hit[0], window, lo)

    def _nearest(self, text: str, start: int, end: int, first: int, window: bytes | None, lo: int = 0) -> Cue:
        """``cue``, where no word starts before ``first``; ``window``: ``text[lo:]`` as bytes for the locator (or None)."""
        best: Cue = Cue.NONE
        distance = self._before + 1
        if first < start:
            for match in self._pattern.finditer(text, first, start):
                if match.end() >= start - self._before:
                    best = Cue.POSITIVE if match.lastgroup == "pos" else Cue.NEGATIVE
                    distance = start - match.end()
        # A word after counts if it starts within ``after`` and at less than half the distance.
        limit = min(self._after, (distance - 1) // 2)
        if limit < 0:
            return best
        after = first
        if window is not None and first < end:
            hit = self._locator.search(window, end - lo)
            if hit is None:
                return best
            after = lo + hit[0]
        elif first < end:
            after = end
        if after - end > limit:
            return best
        following = self._pattern.search(text, after, min(len(text), end + self._after + self._reach))
        if (following is not None and following.start() - end <= self._after
                and 2 * (following.start() - end) < distance
                and not _SENTENCE_END.search(text, end, following.start())):
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
