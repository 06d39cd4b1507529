"""What a detector finds, and what a detector is."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar, Protocol


@dataclass(frozen=True, slots=True)
class Detection:
    """One value found in a text: its kind, where it is (``text[start:end]``), how sure the detector is.

    ``kind`` is a stable word used in policy rules, flags and metric labels
    (``no_fnr``, ``no_dnr``, ``no_hnr``, ``se_pnr``, ``se_samordning``, ``fi_hetu``,
    ``dk_cpr``, ``card``, ``iban``, ``email``, ``phone``, or a custom
    detector's name); ``confidence`` is 0 to 1. A detection never carries the
    value itself: callers slice the text they own.
    """

    kind: str
    start: int
    end: int
    confidence: float


class Detector(Protocol):
    """Finds values of its kinds in a text. Compiled once (patterns, tables); ``find`` is pure."""

    kinds: ClassVar[tuple[str, ...]]

    def find(self, text: str) -> Iterator[Detection]: ...


class BoundedDetector(Protocol):
    """A detector that can search part of a text (``bounded = True``): the scanner then passes no slices.

    ``find(text, start, end)`` reports the values that start within ``text[start:end]``,
    deciding on them as on the whole text (context words are read outside the bounds, and so is
    what comes before ``start`` where the whole text would read a candidate from there); a value
    running past ``end`` may be reported cut there (the scanner makes its bounds so that never
    matters).
    """

    kinds: ClassVar[tuple[str, ...]]
    bounded: ClassVar[bool]

    def find(self, text: str, start: int = 0, end: int | None = None) -> Iterator[Detection]: ...
