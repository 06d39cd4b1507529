"""Custom detectors in the policy: its own format, and Microsoft Presidio's YAML recognizers read into it.

A custom detector is one or more scored regexes, an optional check-digit
validator (``gateway.lib.checksums``) and context words (a context word among
the five words before a value raises its score by 0.35, to at least 0.4, as
Presidio does). Its name is the kind it reports::

    sensitive:
      detectors:
        - name: no_orgnr
          patterns: [{regex: '\\b\\d{3} ?\\d{3} ?\\d{3}\\b', score: 0.5}]
          validator: no.orgnr
          context: [organisasjonsnummer, orgnr]

Presidio's ad hoc recognizer format is accepted as it is, inline or as text
(``presidio: ["${file:recognizers.yaml}"]``)::

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

Each recognizer becomes one :class:`CustomDetectorSpec` whose name is its
``supported_entity``; a ``deny_list`` becomes one more pattern (the words,
whole, score ``deny_list_score``, default 1.0). Regexes get Presidio's default
flags (ignore case, multi-line, dot matches newline) unless the document sets
``global_regex_flags``. Every problem of a document is reported at once, one
per line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, Field, ValidationError, model_validator

from ..lib.checksums import resolve
from .schema_base import Model

#: The kinds the built-in detectors report (gateway.sensitive.base.Detection.kind).
BUILTIN_KINDS = ("no_fnr", "no_dnr", "no_hnr", "se_pnr", "se_samordning", "fi_hetu", "dk_cpr", "card", "iban",
                 "email", "phone")

Flag = Literal["ignore_case", "multiline", "dotall", "verbose"]
FLAGS: dict[str, re.RegexFlag] = {
    "ignore_case": re.IGNORECASE, "multiline": re.MULTILINE, "dotall": re.DOTALL, "verbose": re.VERBOSE,
}
PRESIDIO_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL
_KIND_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


def check_kind(value: str) -> str:
    # Whether it is a built-in kind or a custom detector's is checked where it is written (the loader).
    if not _KIND_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a kind name (a letter, then up to 63 letters, digits, '_', '.', '-')")
    return value


Kind = Annotated[str, AfterValidator(check_kind)]


def regex_flags(flags: tuple[str, ...]) -> int:
    value = 0
    for name in flags:
        value |= FLAGS[name]
    return value


class CustomPattern(Model):
    regex: str = Field(description="A Python regular expression; the first group, if any, is the value. Required.")
    score: float = Field(0.85, ge=0.0, le=1.0, description="Confidence of a match (see sensitive.floor). Absent: 0.85.")
    name: str = Field("", description="A label for error messages. Absent: none.")


class CustomDetectorSpec(Model):
    """A detector of the policy's own: its name is the kind that rules and pages name."""

    name: Kind = Field(description="The kind it reports. Required.")
    patterns: tuple[CustomPattern, ...] = Field(description="One or more patterns. Required (non-empty).")
    validator: str | None = Field(
        None, description="luhn, mod97, mod11, or a python-stdnum module (no.orgnr, isbn): only matches that pass "
        "count. Absent: none.",
    )
    context: tuple[str, ...] = Field((), description="Words that raise the score when among the five words before "
                                     "a value (+0.35, to at least 0.4). Absent: none.")
    flags: tuple[Flag, ...] = Field((), description="Regex flags: ignore_case, multiline, dotall, verbose. "
                                    "Absent: none.")
    language: str | None = Field(None, description="The language it is for (informational). Absent: any.")

    @model_validator(mode="after")
    def _check(self) -> CustomDetectorSpec:
        if self.name in BUILTIN_KINDS:
            raise ValueError(f"name: {self.name!r} is a built-in kind; give the custom detector a name of its own")
        if not self.patterns:
            raise ValueError("patterns: give at least one")
        flags = regex_flags(self.flags)
        for i, pattern in enumerate(self.patterns):
            try:
                re.compile(pattern.regex, flags)
            except re.error as exc:
                raise ValueError(f"patterns[{i}]: invalid regex {pattern.regex!r}: {exc}") from None
        if self.validator is not None:
            resolve(self.validator)  # UnknownValidator is a ValueError
        return self


# -- Presidio's format --------------------------------------------------------------------------------------

_RECOGNIZER_KEYS = frozenset({
    "name", "supported_entity", "supported_language", "patterns", "context", "deny_list", "deny_list_score",
    "type", "enabled", "validator",
})
_TOP_KEYS = frozenset({"recognizers", "supported_languages", "global_regex_flags"})


def from_presidio(document: Any, source: str = "document") -> list[CustomDetectorSpec]:
    """The detector specs of a parsed Presidio recognizer document (ValueError listing every problem)."""
    if not isinstance(document, Mapping):
        raise ValueError(f"{source}: expected a mapping with a 'recognizers' list")
    errors = [f"{source}: {key}: unknown key" for key in document if key not in _TOP_KEYS]
    flags = document.get("global_regex_flags", PRESIDIO_FLAGS)
    if not isinstance(flags, int) or isinstance(flags, bool):
        errors.append(f"{source}: global_regex_flags: expected an integer")
        flags = PRESIDIO_FLAGS
    recognizers = document.get("recognizers")
    if not isinstance(recognizers, list):
        errors.append(f"{source}: recognizers: expected a list")
        recognizers = []
    specs: list[CustomDetectorSpec] = []
    for i, item in enumerate(recognizers):
        try:
            spec = _recognizer(item, flags)
        except ValueError as exc:
            errors.append(f"{source}: recognizers[{i}]: {exc}")
            continue
        if spec is not None:
            specs.append(spec)
    if errors:
        raise ValueError("\n".join(errors))
    return specs


def load_presidio(text: str, source: str = "document") -> list[CustomDetectorSpec]:
    """Presidio recognizer YAML (safe loader) read into detector specs."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{source}: invalid YAML: {exc}") from None
    return from_presidio(document, source)


def _recognizer(item: Any, flags: int) -> CustomDetectorSpec | None:
    if not isinstance(item, Mapping):
        raise ValueError("expected a mapping")
    unknown = sorted(str(k) for k in item if k not in _RECOGNIZER_KEYS)
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(unknown)}")
    if item.get("type", "custom") != "custom":
        raise ValueError(f"type {item.get('type')!r}: only custom (pattern) recognizers can be loaded")
    if item.get("enabled", True) is False:
        return None
    entity = item.get("supported_entity")
    if not isinstance(entity, str) or not entity:
        raise ValueError("supported_entity: expected a name")
    raw_patterns = item.get("patterns", [])
    if not isinstance(raw_patterns, list):
        raise ValueError("patterns: expected a list")
    patterns: list[dict[str, Any]] = []
    for j, raw in enumerate(raw_patterns):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("regex"), str):
            raise ValueError(f"patterns[{j}]: expected a mapping with a regex")
        score = raw.get("score", 0.5)
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise ValueError(f"patterns[{j}].score: expected a number")
        patterns.append({"regex": raw["regex"], "score": float(score), "name": str(raw.get("name", ""))})
    deny = item.get("deny_list", [])
    if not isinstance(deny, list) or not all(isinstance(w, str) for w in deny):
        raise ValueError("deny_list: expected a list of strings")
    if deny:
        deny_score = item.get("deny_list_score", 1.0)
        if isinstance(deny_score, bool) or not isinstance(deny_score, (int, float)):
            raise ValueError("deny_list_score: expected a number")
        words = "|".join(re.escape(w) for w in sorted(deny, key=len, reverse=True))
        patterns.append({"regex": rf"(?:^|(?<=\W))({words})(?:$|(?=\W))", "score": float(deny_score),
                         "name": "deny_list"})
    if not patterns:
        raise ValueError("expected patterns or a deny_list")
    context = item.get("context", [])
    if not isinstance(context, list) or not all(isinstance(w, str) for w in context):
        raise ValueError("context: expected a list of words")
    validator = item.get("validator")
    if validator is not None and not isinstance(validator, str):
        raise ValueError("validator: expected a name")
    language = item.get("supported_language")
    try:
        return CustomDetectorSpec(
            name=entity, patterns=tuple(CustomPattern(**p) for p in patterns), validator=validator,
            context=tuple(context), flags=tuple(n for n, f in FLAGS.items() if flags & f),
            language=None if language is None else str(language),
        )
    except ValidationError as exc:
        raise ValueError("; ".join(_problem(e) for e in exc.errors())) from None


def _problem(error: Any) -> str:
    where = ".".join(str(step) for step in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _check_document(document: str | dict[str, Any]) -> str | dict[str, Any]:
    if isinstance(document, str):
        load_presidio(document)
    else:
        from_presidio(document)
    return document


#: A Presidio document in the policy, checked where it is written.
PresidioDocument = Annotated[str | dict[str, Any], AfterValidator(_check_document)]


def presidio_specs(document: str | dict[str, Any]) -> list[CustomDetectorSpec]:
    return load_presidio(document) if isinstance(document, str) else from_presidio(document)
