"""What replaces a value found in a text: the last four characters, or a keyed token.

``last4`` keeps the last four characters and stars the rest (a value of four
characters or fewer is starred whole). ``token`` is ``[kind:8 hex]``: the
start of an HMAC-SHA256 over the kind and the value, keyed, so the same value
gives the same token (an agent can still tell two tickets are about one
card) and the value cannot be found again without the key. The value is
normalised first: an e-mail address case-folded, anything else reduced to its
letters and digits in upper case (``123456 78901`` and ``12345678901`` are one
person).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def last4(value: str) -> str:
    if len(value) <= 4:
        return "*" * len(value)
    return "*" * (len(value) - 4) + value[-4:]


def normalise(kind: str, value: str) -> str:
    if kind == "email":
        return value.strip().casefold()
    return "".join(ch for ch in value if ch.isalnum()).upper()


def token(key: bytes, kind: str, value: str) -> str:
    digest = hmac.new(key, f"{kind}\0{normalise(kind, value)}".encode("utf-8", "surrogateescape"), hashlib.sha256)
    return f"[{kind}:{digest.hexdigest()[:8]}]"


def replace_spans(text: str, replacements: Iterable[tuple[int, int, str]]) -> str:
    """``text`` with each ``text[start:end]`` replaced; the spans must not overlap."""
    out: list[str] = []
    at = 0
    for start, end, new in sorted(replacements):
        if start < at:
            raise ValueError("overlapping replacements")
        out += [text[at:start], new]
        at = end
    out.append(text[at:])
    return "".join(out)
