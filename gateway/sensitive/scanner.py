"""Run a set of detectors over a text: one cheap pass to find candidates, the detectors only around them.

Speed is the constraint (a helpdesk page or ticket body goes through this on
every response), and most text holds no personal data at all. So a scan is:

1. **Prefilter.** One combined RE2 pattern (a DFA: linear, no per-character
   Python; leftmost-longest, so the fewest matches) finds every *trigger*: a
   place where some detector could match. Each detector brings its own
   *atoms*, shaped like its candidates without their look-arounds, so the
   usual lookalikes (dates, dotted account numbers, ``ordre #4662068``)
   fire nothing: :data:`CARD_DIGITS`, :data:`PHONE_DIGITS`,
   :data:`NATIONAL_ID` (all four Nordic IDs), :data:`AT` (e-mail),
   :data:`IBAN_GROUPS`; :data:`DIGITS` is the generic one. The text is
   encoded to Latin-1 (unencodable characters become ``?``) so that byte
   offsets are character offsets. Which atoms fired at a trigger is one
   RE2 set match over its bytes and the digit run they end in
   (:meth:`Scanner.triggers`).
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
   then the earlier one. The result is sorted by start.

The contract for a detector (``base.Detector``) stays ``kinds`` + ``find(text)``.
The scanner reads optional class attributes:

- ``trigger: ClassVar[str | tuple[str, ...] | None]``: RE2/``re``-compatible
  patterns (*atoms*) for where a match could be, e.g. ``scanner.DIGITS``; the
  detector runs only around triggers where one of its atoms fired. Every
  match of the detector must lie within ``margin`` characters of a trigger
  match (a bounded one: within its window). ``None`` makes it a full-text
  detector. Without the attribute, a detector whose kinds are all in
  :data:`DIGIT_KINDS` (the built-in numeric kinds, the Nordic IDs included)
  uses :data:`DIGITS`; any other detector (custom ones) runs on the full text.
- ``bounded``, ``lead``, ``tail``: see 2 (``base.BoundedDetector``).
- ``context_reach: ClassVar[int]``: how many characters around a value a
  sliced detector reads for context words (``IMEI``, ``CPR``...). The margin
  is the largest reach, at least :data:`MARGIN`.

Either way a detector must find the same values around its triggers as in
the whole text: a sliced one decides on the value and at most
``context_reach`` characters around it, and treats the window's edges like
the text's edges (they fall on whitespace); a bounded one's window ends
where its look-aheads see what they would see in the whole text, and a
value cut by a window's edge has a trigger of its own whose window merges
with it.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from typing import cast

import re2

from .base import BoundedDetector, Detection, Detector

# Six or more digits, each pair separated by at most one space, dash, dot or slash.
DIGITS = r"[0-9](?:[ \-./]?[0-9]){5,}"
AT = r"@[^\s@]*"
IBAN_START = r"[A-Z]{2}[0-9]{2}"
# The built-in detectors' own triggers: each matches wherever that detector's candidate pattern
# (lookarounds left out) could, and little else; dates, dotted account numbers and short numbers
# fire none of them.
# 12 or more digits in groups (any such run: the card detector reads a run from its start).
CARD_DIGITS = r"[0-9](?:[ \-]?[0-9]){11,}"
# 6 or more digits, spaces, dashes, parentheses, after what may stand before a phone number
# (not ``#``, ``-``, a letter...: ``ordre #4662068``, ``INV-2019-88584``).
PHONE_DIGITS = r"(?:^|[^0-9A-Za-z_+#/.,:\-])\+?\(?[0-9](?:[ \-()]{0,2}[0-9]){5,}"
# The Nordic national IDs' shapes, whole (not inside a longer number: an IMEI, a card): DDMMYY[ -]NNNNN,
# [CC]YYMMDD[-+]NNNN (personnummer, CPR), DDMMYY, a century sign, NNN and a check character (HETU).
NATIONAL_ID = ("(?:^|[^0-9A-Za-z_])"
               "(?:[0-9]{6}[ \xa0\\-]?[0-9]{5}|(?:[0-9]{2})?[0-9]{6}[-+]?[0-9]{4}|[0-9]{6}[-+A-FU-Ya-fu-y][0-9]{3}[0-9A-Ya-y])"
               "(?:[^0-9A-Za-z_]|$)")
# Each country's shape of NATIONAL_ID alone (together the same places): a value goes only to the
# detectors whose shape it has (an 11-digit fødselsnummer is no CPR, a HETU with letters no personnummer).
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
_RUN_ON = re.compile(r"(?:[\w()]|[ \-+.,:/\xa0]{1,2}(?=[0-9(]))*")


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
        self._bounded = tuple(bounded)
        self._full = tuple(full)
        # Each bounded detector's (atoms, lead, tail); detectors with the same one share their windows.
        keys = [(mask, int(getattr(d, "lead", 0)), int(getattr(d, "tail", 0))) for d, mask in bounded]
        self._keys = tuple(dict.fromkeys(keys))
        self._key_of = tuple(self._keys.index(key) for key in keys)
        reach = max((int(getattr(d, "context_reach", 0)) for d in self.detectors if d in {w for w, _ in windowed}),
                    default=0)
        self.margin = max(margin, reach)
        # RE2 finds the places (a DFA without capturing groups, leftmost-longest: fast, and the
        # fewest matches); which atoms fired is decided afterwards around the short matched bytes.
        self._prefilter: re2._Regexp[bytes] | None = None
        self._atom_set: re2.Set | None = None
        if atoms:
            options = re2.Options()
            options.encoding = re2.Options.Encoding.LATIN1  # type: ignore[attr-defined]  # missing from the stubs
            options.longest_match = True
            self._prefilter = re2.compile("|".join(f"(?:{a})" for a in atoms).encode("latin-1"), options)
            self._atom_set = re2.Set.SearchSet(options)
            for atom in atoms:
                self._atom_set.Add(atom.encode("latin-1"))
            self._atom_set.Compile()

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(kind for d in self.detectors for kind in d.kinds))

    def triggers(self, text: str) -> list[tuple[int, int, int, int]]:
        """The prefilter's matches in ``text``: ``(start, end, atoms fired, far)``, the atoms as a bit set.

        An atom fired at a match when one of its own matches lies within the match and the digit
        run it ends in (``far``), or ``ATOM_SPAN`` past its end: an atom may start within the
        match and run past its end (a longer one at the same place won, or an earlier one hides
        it: ``@GB29 NWBK...``), by at most that much or along the run. Atoms found there that
        start after the match fire too (they are found again later).
        """
        if self._prefilter is None or self._atom_set is None:
            return []
        data = text.encode("latin-1", "replace")
        found: list[tuple[int, int, int, int]] = []
        append = found.append
        run_on = _RUN_ON.match
        atom_set = self._atom_set.Match
        limit = len(text)
        for match in self._prefilter.finditer(data):
            start, end = match.span()
            run = run_on(text, end, min(limit, end + WIDEN))
            far = run.end() if run is not None else end
            fired = 0
            hits = cast("list[int] | None", atom_set(data[start:max(far, end + ATOM_SPAN)]))
            for i in hits or ():
                fired |= 1 << i
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
        triggers = self.triggers(text) if self._windowed or self._bounded else []
        if self._bounded:
            bounds = _bounds(text, triggers, self._keys)
            for (detector, _mask), key in zip(self._bounded, self._key_of):
                find = detector.find
                for a, b in bounds[key]:
                    yield from find(text, a, b)
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


def _bounds(text: str, triggers: list[tuple[int, int, int, int]], keys: Sequence[tuple[int, int, int]],
            ) -> list[list[tuple[int, int]]]:
    """The merged windows per ``(atoms, lead, tail)`` of bounded detectors (see :meth:`Scanner.raw`), in one pass."""
    n = len(text)
    merged: list[list[tuple[int, int]]] = [[] for _ in keys]
    current = [[-1, -1] for _ in keys]  # the window being grown, per key
    which: dict[int, tuple[int, ...]] = {}  # the keys whose atoms are among those fired
    for start, end, fired, far in triggers:
        mine = which.get(fired)
        if mine is None:
            mine = which[fired] = tuple(i for i, key in enumerate(keys) if fired & key[0])
        for i in mine:
            _mask, lead, tail = keys[i]
            # A candidate that starts earlier in the token and is rejected there hides what a
            # search from inside the token would find (the whole text never looks there).
            lo = _widen_left(text, max(0, start - lead)) if lead else start
            hi = max(far, _run_end(text, end + tail)) if tail else far
            window = current[i]
            if window[1] >= 0 and lo <= window[1]:
                window[1] = max(window[1], hi)
                continue
            if window[1] >= 0:
                merged[i].append((window[0], window[1]))
            window[0], window[1] = max(0, lo), min(n, hi)
    for i, (a, b) in enumerate(current):
        if b >= 0:
            merged[i].append((a, min(n, b)))
    return merged


def _run_end(text: str, i: int) -> int:
    """Where the digit run that ``text[i]`` is in (see ``_RUN_ON``) ends, at most ``WIDEN`` further."""
    i = min(i, len(text))
    run = _RUN_ON.match(text, i, min(len(text), i + WIDEN))
    return run.end() if run is not None else i


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
    ranked = sorted(
        (d for d in detections if d.confidence >= floor and d.end > d.start),
        key=lambda d: (-d.confidence, d.start - d.end, d.start),
    )
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
