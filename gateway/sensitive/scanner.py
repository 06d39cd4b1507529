"""Run a set of detectors over a text: one cheap pass to find candidates, the detectors only around them.

Speed is the constraint (a helpdesk page or ticket body goes through this on
every response), and most text holds no personal data at all. So a scan is:

1. **Prefilter.** One combined RE2 pattern (a DFA: linear, no per-character
   Python; leftmost-longest, so the fewest matches) finds every *trigger*: a
   place where some detector could match. Each detector brings its own
   *atoms*, shaped like its candidates without their look-arounds, so the
   usual lookalikes fire nothing: ``card.CARD_NUMBER`` (an issuer's prefix
   and one of its lengths: no IMEI, no other long run of digits),
   ``phone.digits_trigger`` (no more digits than a phone number has, and
   none of the shapes it refuses: dates, national IDs), :data:`FNR_ID`,
   :data:`PNR_ID`, :data:`CPR_ID`, :data:`HETU_ID`, :data:`AT` (e-mail),
   :data:`IBAN_GROUPS`; :data:`DIGITS` is the generic one. The text is
   encoded to Latin-1 (:func:`latin1.encode`) so that byte offsets are
   character offsets, and the matches are read without the ``re2`` wrapper's
   match objects (:class:`latin1.Regex`). Which atoms fired at a trigger is
   one RE2 set match over its bytes and the digit run they end in
   (:meth:`Scanner.triggers`); the run is followed to its end.
2. **Bounded detectors** (``bounded = True``, every built-in one) search
   the text itself between bounds, ``find(text, start, end)``: a window per
   detector, from its fired triggers (``lead`` characters before, then back
   to the token's start; to the end of the digit run, and ``tail`` further),
   merged per detector. Context words are read from the whole text, so a
   window only has to hold the values, not their labels.
3. **Sliced detectors** (the others with a trigger) run ``find(text[a:b])``
   on windows ``[start - margin, end + margin]`` widened to the nearest
   whitespace (at most :data:`WIDEN` characters further), merged; offsets
   are shifted back by ``a``. *Full-text* detectors run once on the whole
   text. Text without a trigger thus costs one RE2 pass plus the full-text
   detectors.
4. **Resolution.** Detections under the confidence floor are dropped; of
   overlapping ones the higher confidence wins, on a tie the longer span,
   then the earlier one (decided within each group of overlapping ones).
   The result is sorted by start.

Where the time goes: a text without triggers costs the RE2 pass (several
hundred MB/s); each trigger costs a few microseconds of Python (the RE2
calls, the run, the set match), each window a detector's regex, and each
candidate that passes its shape its checks (python-stdnum, phonenumbers)
and context words. Helpdesk text with a value in every few hundred
characters is therefore bound by the values, not the text.

The contract for a detector (``base.Detector``) stays ``kinds`` + ``find(text)``.
The scanner reads optional attributes:

- ``trigger: str | tuple[str, ...] | None``: RE2/``re``-compatible patterns
  (*atoms*) for where a match could be, e.g. ``scanner.DIGITS``; the
  detector runs only around triggers where one of its atoms fired. Every
  match of the detector must lie within ``margin`` characters of a trigger
  match (a bounded one: within its window), and an atom must match at
  every value (its first character, or the one before it, to its last,
  or the one after it). ``None`` makes it a full-text detector. Without the
  attribute, a detector whose kinds are all in :data:`DIGIT_KINDS` (the
  built-in numeric kinds, the Nordic IDs included) uses :data:`DIGITS`; any
  other detector (custom ones) runs on the full text.
- ``bounded``, ``lead``, ``tail``: see 2 (``base.BoundedDetector``).
- ``context_reach: ClassVar[int]``: how many characters around a value a
  sliced detector reads for context words (``IMEI``, ``CPR``...). The margin
  is the largest reach, at least :data:`MARGIN`.

Either way a detector must find the same values around its triggers as in
the whole text: a sliced one decides on the value and at most
``context_reach`` characters around it, and treats the window's edges like
the text's edges (they fall on whitespace); a bounded one's window ends
where its look-aheads see what they would see in the whole text, a value
cut by a window's edge has a trigger of its own whose window merges with
it, and a window may start inside what the whole text reads as one
candidate (the card and phone detectors read from where they are in step
with the whole text, and report what starts inside the window).
"""

from __future__ import annotations

import importlib
import operator
import pkgutil
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from typing import cast

import re2

from . import latin1
from .base import BoundedDetector, Detection, Detector

# Six or more digits, each pair separated by at most one space, dash, dot or slash.
DIGITS = r"[0-9](?:[ \-./]?[0-9]){5,}"
AT = r"@[^\s@]*"
# The built-in detectors' own triggers (the card's and the phone's are in their modules): each
# matches wherever that detector's candidate pattern (lookarounds left out) could, and little else;
# dates, dotted account numbers and short numbers fire none of them.
# The Nordic national IDs' shapes, whole (not inside a longer number: an IMEI, a card), each country's
# alone: a value goes only to the detectors whose shape it has (an 11-digit fødselsnummer is no CPR, a
# HETU with letters no personnummer). DDMMYY[ -]NNNNN, [CC]YYMMDD[-+]NNNN (personnummer), DDMMYY-NNNN
# (CPR), DDMMYY, a century sign, NNN and a check character (HETU).
FNR_ID = "(?:^|[^0-9A-Za-z_])[0-9]{6}[ \xa0\\-]?[0-9]{5}(?:[^0-9A-Za-z_]|$)"
PNR_ID = r"(?:^|[^0-9A-Za-z_])(?:[0-9]{2})?[0-9]{6}[-+]?[0-9]{4}(?:[^0-9A-Za-z_]|$)"
CPR_ID = r"(?:^|[^0-9A-Za-z_])[0-9]{6}-?[0-9]{4}(?:[^0-9A-Za-z_]|$)"
HETU_ID = r"(?:^|[^0-9A-Za-z_])[0-9]{6}[-+A-FU-Ya-fu-y][0-9]{3}[0-9A-Ya-y](?:[^0-9A-Za-z_]|$)"
IBAN_GROUPS = r"[A-Za-z]{2}[0-9]{2} ?[A-Za-z0-9]{4}"  # country, check digits, the first BBAN group

# Kinds whose values start with a digit run that DIGITS catches.
DIGIT_KINDS = frozenset({
    "card", "phone",
    "no_fnr", "no_dnr", "no_hnr", "se_pnr", "se_samordning", "fi_hetu", "dk_cpr",
})

MARGIN = 64
WIDEN = 256
# How long a match of a built-in atom that is not a run of digits (an IBAN's start, a national ID) is, at most.
ATOM_SPAN = 16
# What continues a run of digits to the right: a word, or separators before more digits. A value
# (``4111 1111 1111 1111``, ``+47 22 33 44 55``, ``(22) 33 44 55``) is never cut by a bounded
# window's end, and what follows the end (whitespace, a word, a full stop) cannot change the
# detectors' look-aheads (``(?!\w)``, ``(?![.,/-][0-9])``) there.
_SPACE = re.compile(r"\s")  # what str.isspace() is true for
_RUN_ON = re.compile(r"(?:[\w()]|[ \-+.,:/\xa0]{1,2}(?=[\d(]))*")


def _trigger_of(detector: Detector) -> str | tuple[str, ...] | None:
    if hasattr(detector, "trigger"):
        trigger: str | tuple[str, ...] | None = getattr(detector, "trigger")
        return trigger
    if detector.kinds and all(kind in DIGIT_KINDS for kind in detector.kinds):
        return DIGITS
    return None


class Scanner:
    """Detectors compiled into one prefilter; ``scan(text)`` gives the resolved detections in order."""

    def __init__(self, detectors: Iterable[Detector], *, floor: float = 0.5, margin: int = MARGIN) -> None:
        if not 0.0 <= floor <= 1.0:
            raise ValueError(f"confidence floor {floor!r} is not between 0 and 1")
        self.detectors: tuple[Detector, ...] = tuple(detectors)
        self.floor = floor
        windowed: list[tuple[Detector, frozenset[int]]] = []
        bounded: list[tuple[BoundedDetector, int]] = []
        full: list[Detector] = []
        atoms: list[str] = []
        for detector in self.detectors:
            trigger = _trigger_of(detector)
            if trigger is None:
                full.append(detector)
                continue
            mine = set()
            for atom in (trigger,) if isinstance(trigger, str) else trigger:
                if atom not in atoms:
                    atoms.append(atom)
                mine.add(atoms.index(atom))
            if getattr(detector, "bounded", False):
                bounded.append((cast(BoundedDetector, detector), sum(1 << i for i in mine)))
            else:
                windowed.append((detector, frozenset(mine)))
        self._windowed = tuple(windowed)
        self._full = tuple(full)
        # Each bounded detector's (atoms, lead, tail); detectors with the same one share their windows.
        keys = [(mask, int(getattr(d, "lead", 0)), int(getattr(d, "tail", 0))) for d, mask in bounded]
        self._keys = tuple(dict.fromkeys(keys))
        self._bounded = tuple((d.find, self._keys.index(key)) for (d, _), key in zip(bounded, keys))
        reach = max((int(getattr(d, "context_reach", 0)) for d in self.detectors if d in {w for w, _ in windowed}),
                    default=0)
        self.margin = max(margin, reach)
        # RE2 finds the places (a DFA without capturing groups, leftmost-longest: fast, and the
        # fewest matches); which atoms fired is decided afterwards around the short matched bytes.
        self._prefilter: latin1.Regex | None = None
        self._atom_set: re2.Set | None = None
        self._fired: dict[tuple[int, ...], int] = {}  # the atoms' indexes an atom set match gave -> their bits
        if atoms:
            options = re2.Options()
            options.encoding = re2.Options.Encoding.LATIN1  # type: ignore[attr-defined]  # missing from the stubs
            self._prefilter = latin1.Regex("|".join(f"(?:{a})" for a in atoms), longest=True)
            self._atom_set = re2.Set.SearchSet(options)
            for atom in atoms:
                self._atom_set.Add(atom.encode("latin-1"))
            self._atom_set.Compile()

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(kind for d in self.detectors for kind in d.kinds))

    def triggers(self, text: str, data: bytes | None = None) -> list[tuple[int, int, int, int]]:
        """The prefilter's matches in ``text``: ``(start, end, atoms fired, far)``, the atoms as a bit set.

        An atom fired at a match when one of its own matches lies within the match and the digit
        run it ends in (``far``), or ``ATOM_SPAN`` past its end: an atom may start within the
        match and run past its end (a longer one at the same place won, or an earlier one hides
        it: ``@GB29 NWBK...``), by at most that much or along the run. Atoms found there that
        start after the match fire too (they are found again later). ``data`` is ``text`` as
        :func:`latin1.encode` gives it, if the caller has it.
        """
        if self._prefilter is None or self._atom_set is None:
            return []
        if data is None:
            data = latin1.encode(text)
        found: list[tuple[int, int, int, int]] = []
        append = found.append
        run_on = _RUN_ON.match
        atom_set = self._atom_set._set.Match  # type: ignore[attr-defined]  # the C method (the wrapper's checks for str)
        fired_of = self._fired
        limit = len(text)
        runs = _Runs(text)
        for start, end in self._prefilter.spans(data):
            near = min(limit, end + WIDEN)
            far = run_on(text, end, near).end()  # type: ignore[union-attr]  # matches ""
            if far >= near - 2 and near < limit:  # perhaps cut short by the bound (by up to a separator pair)
                far = runs.end(end)
            hits = tuple(atom_set(data[start:max(min(far, near), end + ATOM_SPAN)]))
            fired = fired_of.get(hits)
            if fired is None:
                fired = fired_of[hits] = sum(1 << i for i in hits)
            append((start, end, fired, far))
        return found

    def windows(self, text: str, triggers: list[tuple[int, int, int, int]] | None = None,
                ) -> list[tuple[int, int, frozenset[int]]]:
        """The merged ``(start, end, atoms)`` windows around the triggers in ``text`` (for detectors that take slices)."""
        if triggers is None:
            triggers = self.triggers(text)
        n = len(text)
        margin = self.margin
        merged: list[tuple[int, int, frozenset[int]]] = []
        for start, end, bits, _far in triggers:
            fired = frozenset(i for i in range(bits.bit_length()) if bits >> i & 1)
            a = _widen_left(text, max(0, start - margin))
            if merged and a <= merged[-1][1]:
                last = merged.pop()
                a, fired = last[0], fired | last[2]
                if end + margin <= last[1]:
                    merged.append((a, last[1], fired))
                    continue
            merged.append((a, _widen_right(text, min(n, end + margin)), fired))
        return merged

    def raw(self, text: str) -> Iterator[Detection]:
        """Every detection of every detector, unresolved (windowed ones shifted to text offsets).

        A bounded detector searches its own merged windows ``[start - lead, far]`` around the
        matches where its atoms fired (``lead``: how far before its trigger a value may begin;
        then back to the start of that token; ``tail``: how far past the match a value may run
        other than along its digit run), reading context from the whole text.
        """
        triggers = self.triggers(text) if self._windowed or self._keys else []
        found: list[Detection] = []
        extend = found.extend
        bounds: dict[int, list[tuple[int, int]]] = {}
        for find, key in self._bounded:
            windows = bounds.get(key)
            if windows is None:
                windows = bounds[key] = _bounds(text, triggers, self._keys[key])
            for a, b in windows:
                extend(find(text, a, b))
        yield from found
        if self._windowed:
            for a, b, atoms_fired in self.windows(text, triggers):
                window = text[a:b]
                for sliced, atoms in self._windowed:
                    if atoms.isdisjoint(atoms_fired):
                        continue
                    for d in sliced.find(window):
                        yield Detection(d.kind, d.start + a, d.end + a, d.confidence)
        for whole in self._full:
            yield from whole.find(text)

    def scan(self, text: str) -> list[Detection]:
        return resolve(self.raw(text), self.floor)


def _bounds(text: str, triggers: list[tuple[int, int, int, int]], key: tuple[int, int, int]) -> list[tuple[int, int]]:
    """The merged windows of the bounded detectors with this ``(atoms, lead, tail)`` (see :meth:`Scanner.raw`)."""
    mask, lead, tail = key
    runs = _Runs(text)
    merged: list[tuple[int, int]] = []
    lo = hi = -1  # the window being grown
    for start, end, fired, far in triggers:
        if not fired & mask:
            continue
        # A candidate that starts earlier in the token and is rejected there hides what a
        # search from inside the token would find (the whole text never looks there).
        a = _widen_left(text, max(0, start - lead)) if lead else start
        b = max(far, runs.end(end + tail)) if tail else far
        if a <= hi:
            hi = max(hi, b)
            continue
        if hi >= 0:
            merged.append((lo, hi))
        lo, hi = a, b
    if hi >= 0:
        merged.append((lo, hi))
    return merged


class _Runs:
    """Where the digit run that ``text[i]`` is in (see ``_RUN_ON``) ends, for increasing ``i`` of one text.

    Read ``WIDEN`` characters at a time; from anywhere inside a run the run ends at the same
    place, so a long run is read once for all the places in it.
    """

    __slots__ = ("_from", "_text", "_to")

    def __init__(self, text: str) -> None:
        self._text = text
        self._from = self._to = 0

    def end(self, i: int) -> int:
        if self._from <= i < self._to:
            return self._to
        text = self._text
        n = len(text)
        i = start = min(i, n)
        while True:
            near = min(n, i + WIDEN)
            end: int = _RUN_ON.match(text, i, near).end()  # type: ignore[union-attr]  # matches ""
            # Cut short by the bound, by up to a separator pair: read on from there.
            if end < near - 2 or near == n or end == i:
                self._from, self._to = start, end
                return end
            i = end


def _widen_left(text: str, i: int) -> int:
    stop = max(0, i - WIDEN)
    # The last space or newline, unless rarer whitespace follows it (then character by character).
    j = max(stop, text.rfind(" ", stop, i) + 1, text.rfind("\n", stop, i) + 1)
    if _SPACE.search(text, j, i) is None:
        return j
    while i > stop and not text[i - 1].isspace():
        i -= 1
    return i


def _widen_right(text: str, i: int) -> int:
    stop = min(len(text), i + WIDEN)
    while i < stop and not text[i].isspace():
        i += 1
    return i


def resolve(detections: Iterable[Detection], floor: float = 0.0) -> list[Detection]:
    """Non-overlapping detections at or above ``floor``, sorted by start.

    Greedy by priority: higher confidence first, then the longer span, then
    the earlier start; a detection overlapping one already kept is dropped.
    """
    found = sorted((d for d in detections if d.confidence >= floor and d.end > d.start), key=_START)
    # Detections that overlap nothing are kept as they are; the others are decided among the
    # group they overlap (a kept detection only hides those it overlaps).
    kept: list[Detection] = []
    group: list[Detection] = []
    group_end = -1
    for d in found:
        if d.start >= group_end:
            if len(group) == 1:
                kept.append(group[0])
            elif group:
                kept.extend(_greedy(group))
            group = [d]
            group_end = d.end
        else:
            group.append(d)
            group_end = max(group_end, d.end)
    if len(group) == 1:
        kept.append(group[0])
    elif group:
        kept.extend(_greedy(group))
    return kept


_START = operator.attrgetter("start")


def _greedy(detections: list[Detection]) -> list[Detection]:
    """:func:`resolve`'s choice among overlapping detections, in order of start."""
    ranked = sorted(detections, key=lambda d: (-d.confidence, d.start - d.end, d.start))
    starts: list[int] = []
    kept: list[Detection] = []  # sorted by start, non-overlapping
    for d in ranked:
        i = bisect_left(starts, d.start)
        if i > 0 and kept[i - 1].end > d.start:
            continue
        if i < len(kept) and kept[i].start < d.end:
            continue
        starts.insert(i, d.start)
        kept.insert(i, d)
    return kept


def builtin_detectors() -> list[Detector]:
    """One instance of every ``*Detector`` class defined in ``gateway.sensitive.detectors``' modules."""
    from . import detectors as package

    found: list[Detector] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name, value in sorted(vars(module).items()):
            if (name.endswith("Detector") and isinstance(value, type)
                    and value.__module__ == module.__name__ and hasattr(value, "kinds")):
                found.append(value())
    return found


def scan(text: str, detectors: Sequence[Detector], floor: float = 0.5) -> list[Detection]:
    """Convenience for one-off use; a long-lived caller keeps a :class:`Scanner`."""
    return Scanner(detectors, floor=floor).scan(text)
