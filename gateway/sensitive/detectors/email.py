"""E-mail addresses (``email``): a local part, ``@``, a domain with a top-level label of letters.

The usual dot-atom form (RFC 5322 without quoted local parts or comments),
Unicode letters allowed (internationalised addresses). The local part may not
start or end with a dot or hold two in a row; domain labels may not start or
end with a hyphen. A trailing full stop ends the sentence, not the address.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from ..base import Detection
from ..scanner import AT

_EMAIL = re.compile(
    r"(?<![\w.!#$%&'*+/=?^`{|}~-])"
    r"(?P<local>[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*)"
    r"@(?P<domain>(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63})"
    r"(?![\w-]|\.[^\W_])"
)

_TOKEN_REST = re.compile(r"\S*")


class EmailDetector:
    """E-mail addresses in running text."""

    kinds: ClassVar[tuple[str, ...]] = ("email",)
    trigger: ClassVar[str | None] = AT
    bounded: ClassVar[bool] = True
    lead: ClassVar[int] = 65  # the local part, before the "@"
    confidence: ClassVar[float] = 0.9

    def find(self, text: str, start: int = 0, end: int | None = None) -> Iterator[Detection]:
        # A bound inside a token moves to its end: an address is never cut there.
        rest = None if end is None else _TOKEN_REST.match(text, end)
        end = len(text) if end is None else rest.end() if rest is not None else end
        for match in _EMAIL.finditer(text, start, end):
            if len(match.group("local")) <= 64 and len(match.group("domain")) <= 253:
                yield Detection("email", match.start(), match.end(), self.confidence)
