"""Custom detectors: a regex, an optional check-digit validator, context words; and Presidio's YAML recognizers.

A :class:`CustomDetector` reports each regex match (the whole match, or the
first group when the pattern has groups, as Presidio does) whose text passes
the validator. Validators, resolved when the detector is built:

- ``luhn``: the Luhn check over the match's digits;
- ``mod97``: ISO 7064 mod 97-10 over its letters and digits (as IBANs);
- ``mod11``: weights 2, 3, 4, 5, 6, 7 repeating from the right, the last
  digit being ``11 - sum mod 11`` (11 gives 0, 10 is never valid), as in
  Norwegian account and organisation numbers;
- any python-stdnum module name (``no.orgnr``, ``se.orgnr``, ``isbn``): its
  ``is_valid``.

Context words work like Presidio's: a context word among the few words
before the value raises the confidence by 0.35, to at least 0.4.

:func:`load_presidio` reads Presidio's ad hoc recognizer format::

    recognizers:
      - name: "Zip code Recognizer"
        supported_language: "de"
        supported_entity: "ZIP"
        patterns:
          - {name: "zip code (weak)", regex: "(\\\\b\\\\d{5}(?:\\\\-\\\\d{4})?\\\\b)", score: 0.01}
        context: [zip, code]
      - name: "Titles recognizer"
        supported_entity: "TITLE"
        deny_list: [Mr., Mrs.]

Each recognizer becomes one detector whose kind is its ``supported_entity``.
Regexes get Presidio's default flags (ignore case, multi-line, dot matches
newline) unless the file sets ``global_regex_flags``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import yaml

from .base import Detection

Validator = Callable[[str], bool]

CONTEXT_BOOST = 0.35
CONTEXT_MIN_SCORE = 0.4
CONTEXT_WORDS_BEFORE = 5
PRESIDIO_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL


class CustomDetectorError(ValueError):
    """A custom detector that cannot be built; the message names it and what is wrong."""


def _luhn(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if len(digits) < 2:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mod97(value: str) -> bool:
    chars = "".join(c for c in value.upper() if c.isascii() and c.isalnum())
    if len(chars) < 3:
        return False
    if not chars[:2].isdigit():  # IBAN-style: country and check digits go last
        chars = chars[4:] + chars[:4]
    return int("".join(str(int(c, 36)) for c in chars)) % 97 == 1


def _mod11(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if len(digits) < 2:
        return False
    body, check = digits[:-1], digits[-1]
    total = sum(d * (2 + i % 6) for i, d in enumerate(reversed(body)))
    expected = (11 - total % 11) % 11
    return expected != 10 and expected == check


BUILTIN_VALIDATORS: dict[str, Validator] = {"luhn": _luhn, "mod97": _mod97, "mod11": _mod11}


def resolve_validator(name: str) -> Validator:
    """The validator called ``name``; :class:`CustomDetectorError` when there is none."""
    if name in BUILTIN_VALIDATORS:
        return BUILTIN_VALIDATORS[name]
    if not re.fullmatch(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*", name):
        raise CustomDetectorError(f"unknown validator {name!r}")
    try:
        module = importlib.import_module(f"stdnum.{name}")
    except ImportError:
        module = None
    is_valid = getattr(module, "is_valid", None)
    if not callable(is_valid):
        raise CustomDetectorError(
            f"unknown validator {name!r}: expected luhn, mod97, mod11 or a python-stdnum module such as no.orgnr"
        )

    def validate(value: str) -> bool:
        try:
            return bool(is_valid(value))
        except Exception:  # a stdnum module that raises on odd input: not a valid number
            return False

    return validate


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
        self._validator = None if validator is None else resolve_validator(validator)
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


_RECOGNIZER_KEYS = frozenset({
    "name", "supported_entity", "supported_language", "patterns", "context", "deny_list", "deny_list_score",
    "type", "enabled", "validator",
})
_TOP_KEYS = frozenset({"recognizers", "supported_languages", "global_regex_flags"})


def _fail(where: str, message: str) -> CustomDetectorError:
    return CustomDetectorError(f"{where}: {message}")


def from_presidio(document: Mapping[str, Any], source: str = "<presidio>") -> list[CustomDetector]:
    """Custom detectors from a parsed Presidio recognizer document; every problem is reported, one per line."""
    errors: list[str] = []
    detectors: list[CustomDetector] = []
    if not isinstance(document, Mapping):
        raise _fail(source, "expected a mapping with a 'recognizers' list")
    for key in document:
        if key not in _TOP_KEYS:
            errors.append(f"{source}: {key}: unknown key")
    flags = document.get("global_regex_flags", PRESIDIO_FLAGS)
    if not isinstance(flags, int) or isinstance(flags, bool):
        errors.append(f"{source}: global_regex_flags: expected an integer")
        flags = PRESIDIO_FLAGS
    recognizers = document.get("recognizers")
    if not isinstance(recognizers, list):
        errors.append(f"{source}: recognizers: expected a list")
        recognizers = []
    for i, item in enumerate(recognizers):
        where = f"{source}: recognizers[{i}]"
        try:
            detector = _recognizer(item, where, flags)
        except CustomDetectorError as exc:
            errors.append(str(exc) if str(exc).startswith(source) else f"{where}: {exc}")
            continue
        if detector is not None:
            detectors.append(detector)
    if errors:
        raise CustomDetectorError("\n".join(errors))
    return detectors


def _recognizer(item: Any, where: str, flags: int) -> CustomDetector | None:
    if not isinstance(item, Mapping):
        raise _fail(where, "expected a mapping")
    unknown = sorted(str(k) for k in item if k not in _RECOGNIZER_KEYS)
    if unknown:
        raise _fail(where, f"unknown key(s): {', '.join(unknown)}")
    if item.get("type", "custom") != "custom":
        raise _fail(where, f"type {item.get('type')!r}: only custom (pattern) recognizers can be loaded")
    if item.get("enabled", True) is False:
        return None
    entity = item.get("supported_entity")
    if not isinstance(entity, str) or not entity:
        raise _fail(where, "supported_entity: expected a name")
    patterns: list[Pattern] = []
    raw_patterns = item.get("patterns", [])
    if not isinstance(raw_patterns, list):
        raise _fail(where, "patterns: expected a list")
    for j, raw in enumerate(raw_patterns):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("regex"), str):
            raise _fail(where, f"patterns[{j}]: expected a mapping with a regex")
        score = raw.get("score", 0.5)
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise _fail(where, f"patterns[{j}].score: expected a number")
        patterns.append(Pattern(raw["regex"], float(score), str(raw.get("name", ""))))
    deny = item.get("deny_list", [])
    if not isinstance(deny, list) or not all(isinstance(w, str) for w in deny):
        raise _fail(where, "deny_list: expected a list of strings")
    if deny:
        deny_score = item.get("deny_list_score", 1.0)
        if isinstance(deny_score, bool) or not isinstance(deny_score, (int, float)):
            raise _fail(where, "deny_list_score: expected a number")
        words = "|".join(re.escape(w) for w in sorted(deny, key=len, reverse=True))
        patterns.append(Pattern(rf"(?:^|(?<=\W))({words})(?:$|(?=\W))", float(deny_score), "deny_list"))
    if not patterns:
        raise _fail(where, "expected patterns or a deny_list")
    context = item.get("context", [])
    if not isinstance(context, list) or not all(isinstance(w, str) for w in context):
        raise _fail(where, "context: expected a list of words")
    validator = item.get("validator")
    if validator is not None and not isinstance(validator, str):
        raise _fail(where, "validator: expected a name")
    language = item.get("supported_language")
    return CustomDetector(entity, patterns, validator=validator, context=context, flags=flags,
                          language=str(language) if language is not None else None)


def load_presidio(text: str, source: str = "<presidio>") -> list[CustomDetector]:
    """Parse Presidio recognizer YAML (safe loader) and build its detectors."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail(source, f"invalid YAML: {exc}") from None
    return from_presidio(document, source)
