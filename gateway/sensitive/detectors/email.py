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


class EmailDetector:
    """E-mail addresses in running text."""

    kinds: ClassVar[tuple[str, ...]] = ("email",)
    trigger: ClassVar[str | None] = AT
    confidence: ClassVar[float] = 0.9

    def find(self, text: str) -> Iterator[Detection]:
        for match in _EMAIL.finditer(text):
            if len(match.group("local")) <= 64 and len(match.group("domain")) <= 253:
                yield Detection("email", match.start(), match.end(), self.confidence)
