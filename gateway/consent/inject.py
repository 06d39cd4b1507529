"""Streaming injection of an HTML fragment before ``</body>`` (pure).

The body streams through :class:`Injector` chunk by chunk. It looks for the
first ``</body`` followed by ``>``, ``/`` or whitespace, in any letter case
and across chunk boundaries, and inserts the fragment in front of it, once.
Memory is bounded by a constant: at most ``len("</body>") - 1`` bytes are
held back between chunks, whatever the page size.

When the page ends without ``</body>`` (HTML lets it be left out, and
minifiers do), the fragment is appended at the end if the page looked like a
document (``<html`` or ``<body`` was seen); otherwise, for fragments of
HTML, nothing is added.

The search is textual: a ``</body>`` inside a script string or a comment
before the real one would receive the fragment. The page must use an
ASCII-compatible encoding (UTF-8, ISO-8859-x, windows-125x); the caller
does not inject into UTF-16 or UTF-32 pages.
"""

from __future__ import annotations

import re

_CLOSE = re.compile(rb"</body[\s/>]", re.IGNORECASE)
_OPEN = re.compile(rb"<(?:html|body)[\s/>]", re.IGNORECASE)
_KEEP = len(b"</body>") - 1  # bytes that may be the start of a match split by a chunk boundary

ASCII_INCOMPATIBLE = ("utf-16", "utf-32", "ucs-2", "ucs-4", "utf16", "utf32")


def charset_compatible(content_type: str) -> bool:
    """Whether a Content-Type's charset (if any) keeps ``</body>`` as ASCII bytes."""
    lowered = content_type.lower()
    return not any(name in lowered for name in ASCII_INCOMPATIBLE)


class Injector:
    """A BodyRewriter inserting ``fragment`` once, before the first ``</body>``."""

    __slots__ = ("_carry", "_document", "_done", "fragment", "injected")

    def __init__(self, fragment: bytes) -> None:
        self.fragment = fragment
        self._carry = b""
        self._done = False
        self._document = False
        self.injected = False

    def feed(self, chunk: bytes) -> bytes:
        if self._done:
            return chunk
        data = self._carry + chunk if self._carry else chunk
        if not self._document and _OPEN.search(data) is not None:
            self._document = True
        match = _CLOSE.search(data)
        if match is not None:
            self._done = self.injected = True
            self._carry = b""
            cut = match.start()
            return data[:cut] + self.fragment + data[cut:]
        if len(data) <= _KEEP:
            self._carry = data
            return b""
        self._carry = data[-_KEEP:]
        return data[:-_KEEP]

    def finish(self) -> bytes:
        tail, self._carry = self._carry, b""
        if self._done:
            return tail
        self._done = True
        if self._document or _OPEN.search(tail) is not None:
            self.injected = True
            return tail + self.fragment
        return tail
