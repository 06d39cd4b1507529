"""Run a set of detectors over a text: one cheap pass to find candidates, the detectors only around them.

Speed is the constraint (a helpdesk page or ticket body goes through this on
every response), and most text holds no personal data at all. So a scan is:

1. **Prefilter.** One combined RE2 pattern (a DFA: linear, no per-character
   Python) finds every *trigger*: a place where some detector could match.
   The built-in triggers are :data:`DIGITS` (six or more digits, single
   separators allowed between them: cards, IBANs' digits, phone numbers and
   every Nordic national ID), :data:`AT` (``@`` and the domain after it:
   e-mail) and :data:`IBAN_START` (two capitals and two digits). The text is
   encoded to Latin-1 (unencodable characters become ``?``) so that byte
   offsets are character offsets; every trigger is ASCII.
2. **Windows.** Each trigger becomes a window ``[start - margin, end +
   margin]``, widened to the nearest whitespace (at most :data:`WIDEN`
   characters further) so no token is cut, and overlapping windows merge.
3. **Detectors.** Each *windowed* detector runs ``find(text[a:b])`` on each
   window; offsets are shifted back by ``a``. *Full-text* detectors run once
   on the whole text. Text without a trigger thus costs one RE2 pass plus the
   full-text detectors.
4. **Resolution.** Detections under the confidence floor are dropped; of
   overlapping ones the higher confidence wins, on a tie the longer span,
   then the earlier one. The result is sorted by start.

The contract for a detector (``base.Detector``) stays ``kinds`` + ``find(text)``.
The scanner reads two optional class attributes:

- ``trigger: ClassVar[str | tuple[str, ...] | None]``: RE2/``re``-compatible
  patterns (*atoms*) for where a match could be, e.g. ``scanner.DIGITS``; the
  detector runs only on windows where one of its atoms fired. Every match of the detector
  must lie within ``margin`` characters of a trigger match. ``None`` makes it
  a full-text detector. Without the attribute, a detector whose kinds are all
  in :data:`DIGIT_KINDS` (the built-in numeric kinds, the Nordic IDs included)
  uses :data:`DIGITS`; any other detector (custom ones) runs on the full text.
- ``context_reach: ClassVar[int]``: how many characters around a value the
  detector reads for context words (``IMEI``, ``CPR``...). The margin is the
  largest reach, at least :data:`MARGIN`.

A windowed detector must therefore find the same values in a window as in
the whole text: it decides on the value and at most ``context_reach``
characters around it, and treats the window's edges like the text's edges
(they fall on whitespace).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence

import re2

from .base import Detection, Detector

# Six or more digits, each pair separated by at most one space, dash, dot or slash.
DIGITS = r"[0-9](?:[ \-./]?[0-9]){5,}"
AT = r"@[^\s@]*"
IBAN_START = r"[A-Z]{2}[0-9]{2}"

# Kinds whose values start with a digit run that DIGITS catches.
DIGIT_KINDS = frozenset({
    "card", "phone",
    "no_fnr", "no_dnr", "no_hnr", "se_pnr", "se_samordning", "fi_hetu", "dk_cpr",
})

MARGIN = 64
WIDEN = 256


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
            windowed.append((detector, frozenset(mine)))
        self._windowed = tuple(windowed)
        self._full = tuple(full)
        reach = max((int(getattr(d, "context_reach", 0)) for d in self.detectors), default=0)
        self.margin = max(margin, reach)
        # RE2 finds the places (a DFA without capturing groups: fast); which atom fired is
        # decided afterwards on the short matched bytes.
        self._atoms = tuple(re.compile(atom.encode("ascii")) for atom in atoms)
        self._prefilter: re2._Regexp[bytes] | None = None
        if atoms:
            options = re2.Options()
            options.encoding = re2.Options.Encoding.LATIN1  # type: ignore[attr-defined]  # missing from the stubs
            self._prefilter = re2.compile("|".join(f"(?:{a})" for a in atoms).encode("ascii"), options)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(kind for d in self.detectors for kind in d.kinds))

    def windows(self, text: str) -> list[tuple[int, int, frozenset[int]]]:
        """The merged ``(start, end, atoms)`` windows around the triggers in ``text``."""
        if self._prefilter is None:
            return []
        data = text.encode("latin-1", "replace")
        n = len(text)
        margin = self.margin
        atoms = self._atoms
        one = frozenset((0,))
        merged: list[tuple[int, int, frozenset[int]]] = []
        for match in self._prefilter.finditer(data):
            start, end = match.span()
            if len(atoms) == 1:
                fired = one
            else:
                found = match.group()
                fired = frozenset(i for i, atom in enumerate(atoms) if atom.search(found))
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
        """Every detection of every detector, unresolved (windowed ones shifted to text offsets)."""
        for a, b, fired in self.windows(text):
            window = text[a:b]
            for detector, atoms in self._windowed:
                if atoms.isdisjoint(fired):
                    continue
                for d in detector.find(window):
                    yield Detection(d.kind, d.start + a, d.end + a, d.confidence)
        for detector in self._full:
            yield from detector.find(text)

    def scan(self, text: str) -> list[Detection]:
        return resolve(self.raw(text), self.floor)


def _widen_left(text: str, i: int) -> int:
    stop = max(0, i - WIDEN)
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
