"""What anonymising a case does to its texts and to the requester's identity (pure).

:func:`pseudonym` gives the requester a stable name: ``Customer 7f3a``, the
start of an HMAC-SHA256 over the e-mail address (trimmed, case-folded) with a
key of the policy's ring, so the same person has the same pseudonym in every
case and the address cannot be found from it without the key.
:func:`is_pseudonym` tells whether a name has that form (anybody's pseudonym:
never a name to remove, or the pseudonyms themselves would be rewritten).

:class:`Identifiers` are the requester's known identifiers in the spellings
that occur in helpdesk text: the e-mail address in any letter case; the phone
number with any separators, with or without the country code or the trunk
prefix (``+47 22 33 44 55``, ``0047 22334455``, ``22 33 44 55``); the full
name and each of its parts of three letters or more, as whole words, in any
case. :func:`anonymise_text` replaces those, then everything the sensitive
data scanner finds, by ``[e-mail]``, ``[phone]``, ``[name]`` or
``[<kind>]`` (``[no_fnr]``, ``[card]``), and counts the replacements by kind.
The counts, never the values, are what the audit trail keeps.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import phonenumbers

from ..sensitive.scanner import Scanner

_MIN_NAME_PART = 3


def pseudonym(key: bytes, email: str, *, label: str = "Customer") -> str:
    digest = hmac.new(key, email.strip().casefold().encode("utf-8", "surrogateescape"), hashlib.sha256)
    return f"{label} {digest.hexdigest()[:4]}"


def is_pseudonym(name: str, *, label: str = "Customer") -> bool:
    """Whether ``name`` has the form :func:`pseudonym` gives (``Customer 7f3a``), whoever's it is."""
    return re.fullmatch(rf"{re.escape(label)}\s+[0-9a-f]{{4}}", name.strip(), re.IGNORECASE) is not None


def _digits_pattern(digits: str) -> str:
    """The digits with any of `` -.()/`` (and non-breaking spaces) between them."""
    return r"[\s\-.()/\xa0]{0,3}".join(re.escape(d) for d in digits)


def _phone_spellings(phone: str, regions: Sequence[str]) -> list[str]:
    """The phone's digit strings as they may be written: international, national, with 00 instead of +."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 6:
        return []
    found = {digits}
    candidates: list[phonenumbers.PhoneNumber] = []
    for region in (None, *regions):
        try:
            number = phonenumbers.parse(phone, region)
        except phonenumbers.NumberParseException:
            continue
        candidates.append(number)
    for number in candidates:
        national = str(number.national_number)
        found.update({national, f"{number.country_code}{national}", f"00{number.country_code}{national}"})
        trunk = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        found.add(re.sub(r"\D", "", trunk))
    return sorted((d for d in found if len(d) >= 6), key=len, reverse=True)


@dataclass(frozen=True, slots=True)
class Identifiers:
    """The requester's identifiers, compiled into one pattern per kind (longest spelling first)."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def of(cls, *, emails: Iterable[str] = (), phones: Iterable[str] = (), names: Iterable[str] = (),
           regions: Sequence[str] = ("NO", "SE", "DK", "FI", "GB", "DE")) -> Identifiers:
        patterns: list[tuple[str, re.Pattern[str]]] = []
        mails = sorted({e.strip() for e in emails if "@" in e}, key=len, reverse=True)
        if mails:
            patterns.append(("email", re.compile(
                r"(?<![\w.+-])(?:" + "|".join(re.escape(m) for m in mails) + r")(?![\w-])", re.IGNORECASE)))
        spellings = sorted({s for p in phones for s in _phone_spellings(p, regions)}, key=len, reverse=True)
        if spellings:
            patterns.append(("phone", re.compile(
                r"(?<![\d+])\+?(?:" + "|".join(_digits_pattern(s) for s in spellings) + r")(?!\d)")))
        words: set[str] = set()
        for name in names:
            name = " ".join(name.split())
            if name:
                words.add(name)
                words.update(part for part in re.split(r"[\s,]+", name) if len(part) >= _MIN_NAME_PART)
        if words:
            ordered = sorted(words, key=len, reverse=True)
            patterns.append(("name", re.compile(
                r"(?<!\w)(?:" + "|".join(r"\s+".join(map(re.escape, w.split())) for w in ordered) + r")(?!\w)",
                re.IGNORECASE)))
        return cls(tuple(patterns))


def anonymise_text(text: str, identifiers: Identifiers, scanner: Scanner | None = None) -> tuple[str, Counter[str]]:
    """``text`` with the requester's identifiers and every detected value replaced; the replacements by kind."""
    counts: Counter[str] = Counter()
    for kind, pattern in identifiers.patterns:
        text, n = pattern.subn(f"[{_LABELS.get(kind, kind)}]", text)
        if n:
            counts[kind] += n
    if scanner is not None and text:
        out: list[str] = []
        at = 0
        for detection in scanner.scan(text):
            out += [text[at:detection.start], f"[{_LABELS.get(detection.kind, detection.kind)}]"]
            at = detection.end
            counts[detection.kind] += 1
        out.append(text[at:])
        text = "".join(out)
    return text, counts


_LABELS = {"email": "e-mail", "phone": "phone", "name": "name"}
