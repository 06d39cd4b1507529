"""Custom detectors: scored regexes, an optional check-digit validator, context words.

A :class:`CustomDetector` reports each regex match (the whole match, or the
first group when the pattern has groups, as Presidio does) whose text passes
the validator (``gateway.lib.checksums``: ``luhn``, ``mod97``, ``mod11`` or a
python-stdnum module). Context words work like Presidio's: a context word
among the few words before the value raises the confidence by 0.35, to at
least 0.4. The policy describes them (``gateway.policy.detectors``, which also
reads Presidio's YAML recognizers); :func:`from_spec` builds one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..lib.checksums import UnknownValidator, resolve
from ..policy.detectors import CustomDetectorSpec, regex_flags
from .base import Detection

CONTEXT_BOOST = 0.35
CONTEXT_MIN_SCORE = 0.4
CONTEXT_WORDS_BEFORE = 5


class CustomDetectorError(ValueError):
    """A custom detector that cannot be built; the message names it and what is wrong."""


@dataclass(frozen=True, slots=True)
class Pattern:
    regex: str
    score: float
    name: str = ""


class CustomDetector:
    """Matches of one or more scored regexes, optionally validated, with context words raising the score."""

    kinds: ClassVar[tuple[str, ...]] = ()
    # Any text can match a custom regex: the scanner runs it on the whole text.
    trigger: ClassVar[str | None] = None

    def __init__(
        self,
        name: str,
        patterns: Sequence[Pattern],
        *,
        validator: str | None = None,
        context: Iterable[str] = (),
        flags: int = 0,
        language: str | None = None,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", name):
            raise CustomDetectorError(f"detector name {name!r}: use letters, digits, '_', '.', '-'")
        if not patterns:
            raise CustomDetectorError(f"{name}: no patterns")
        self.name = name
        self.kinds = (name,)  # type: ignore[misc]  # per instance: the kind is the detector's name
        self.language = language
        compiled: list[tuple[re.Pattern[str], float]] = []
        for i, pattern in enumerate(patterns):
            if not 0.0 <= pattern.score <= 1.0:
                raise CustomDetectorError(f"{name}: patterns[{i}]: score {pattern.score!r} is not between 0 and 1")
            try:
                compiled.append((re.compile(pattern.regex, flags), pattern.score))
            except re.error as exc:
                raise CustomDetectorError(f"{name}: patterns[{i}]: invalid regex {pattern.regex!r}: {exc}") from None
        self._patterns = tuple(compiled)
        try:
            self._validator = None if validator is None else resolve(validator)
        except UnknownValidator as exc:
            raise CustomDetectorError(f"{name}: {exc}") from None
        words = [w.strip() for w in context if w.strip()]
        self._context = (
            re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)
            if words else None
        )

    def find(self, text: str) -> Iterator[Detection]:
        found: list[Detection] = []
        for pattern, score in self._patterns:
            for match in pattern.finditer(text):
                start, end = match.span(1) if pattern.groups else match.span()
                if start < 0 or end <= start:
                    continue
                if self._validator is not None and not self._validator(text[start:end]):
                    continue
                found.append(Detection(self.name, start, end, self._score(text, start, score)))
        # Several patterns may match the same value: keep the best, non-overlapping, in order.
        found.sort(key=lambda d: (-d.confidence, d.start - d.end, d.start))
        kept: list[Detection] = []
        for d in found:
            if all(d.end <= k.start or d.start >= k.end for k in kept):
                kept.append(d)
        yield from sorted(kept, key=lambda d: d.start)

    def _score(self, text: str, start: int, score: float) -> float:
        if self._context is None:
            return score
        before = re.findall(r"\w+", text[max(0, start - 120):start])[-CONTEXT_WORDS_BEFORE:]
        if self._context.search(" ".join(before)):
            return min(1.0, max(score + CONTEXT_BOOST, CONTEXT_MIN_SCORE))
        return score


def from_spec(spec: CustomDetectorSpec) -> CustomDetector:
    """The detector a policy's custom detector (or Presidio recognizer) describes."""
    return CustomDetector(spec.name, [Pattern(p.regex, p.score, p.name) for p in spec.patterns],
                          validator=spec.validator, context=spec.context, flags=regex_flags(spec.flags),
                          language=spec.language)
