"""Streaming rewriter for bare http(s) URLs in plain text (pure: no aiohttp, no policy).

This module also defines what every link rewriter asks its caller: a
``UrlDecider`` gets one URL and answers ``None`` (keep it byte-identical), a
replacement URL (a ``str``, raw and unescaped), or ``STRIP`` (remove the link).
The decider may raise; the rewriter lets the exception through, so the filter
chain fails closed.

A URL here is ``http://`` or ``https://`` (any letter case, even glued to the
word before it, as a mail client's linkifier would find it) followed by the
bytes up to whitespace, a control character, ``<``, ``>`` or ``"``. Trailing
punctuation (``.,;:!?'*`` and a few common non-ASCII closing marks) and closing
brackets without an opening partner inside the URL are not part of it, so
``(see https://x.example/a).`` and ``<https://x.example>`` give the bare URL.
A URL longer than ``max_url_bytes`` after its ``://`` ends there and is still
passed to the decider (fail closed): its remainder stays as text without a
scheme. ``STRIP`` replaces the URL by nothing.

Chunk boundaries never change the output: only a URL that may still grow and
the last seven bytes (a scheme that may still complete) are carried over, so
memory stays bounded by ``max_url_bytes``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Final, Literal, TypeAlias
from urllib.parse import quote


class Strip(enum.Enum):
    """Type of the ``STRIP`` sentinel."""

    STRIP = "strip"


STRIP: Final = Strip.STRIP
UrlDecision: TypeAlias = "str | Literal[Strip.STRIP] | None"
UrlDecider: TypeAlias = Callable[[str], UrlDecision]

_TRAILING: Final = frozenset(b".,;:!?'*`")
_CLOSERS: Final = {0x29: b"(", 0x5D: b"[", 0x7D: b"{"}
# ” ’ » 。 ， 、 ） as UTF-8: closing marks that end a sentence, not a URL.
_TRAILING_MB: Final = tuple(ch.encode() for ch in "\u201d\u2019\u00bb\u3002\uff0c\u3001\uff09")
_SCHEME_HOLD: Final = 7  # len("https:/"): a scheme + "://" split after this many bytes is still found


@lru_cache(maxsize=16)
def _body(limit: int) -> re.Pattern[bytes]:
    return re.compile(rb'[^\x00-\x20\x7f<>"]{0,%d}' % limit)


def trim_url(buf: bytes, start: int, body: int, end: int) -> int:
    """End of the URL ``buf[start:end]`` without trailing punctuation; its body begins at ``body``."""
    unmatched: dict[int, int] = {}  # closing bracket -> closers minus openers in the URL so far
    while end > body:
        last = buf[end - 1]
        if last in _TRAILING:
            end -= 1
        elif last < 0x80:
            opener = _CLOSERS.get(last)
            if opener is None:
                break
            if last not in unmatched:
                unmatched[last] = buf.count(bytes((last,)), start, end) - buf.count(opener, start, end)
            if unmatched[last] <= 0:
                break
            unmatched[last] -= 1
            end -= 1
        else:
            mark = next((m for m in _TRAILING_MB if buf.endswith(m, body, end)), None)
            if mark is None:
                break
            end -= len(mark)
    return end


def encode_url(url: str, encoding: str) -> bytes:
    """A replacement URL as bytes; what the encoding cannot hold is percent-encoded (UTF-8)."""
    try:
        return url.encode(encoding)
    except UnicodeEncodeError:
        return quote(url, safe="".join(chr(c) for c in range(0x21, 0x7F))).encode("ascii")


class TextLinkRewriter:
    """Rewrites bare http(s) URLs in a text body while it streams (a BodyRewriter)."""

    __slots__ = ("_body", "_carry", "_decide", "_encoding", "_limit")

    def __init__(self, decide: UrlDecider, *, max_url_bytes: int = 8192, encoding: str = "utf-8") -> None:
        if max_url_bytes < 1:
            raise ValueError("max_url_bytes must be positive")
        self._decide = decide
        self._limit = max_url_bytes
        self._body = _body(max_url_bytes)
        self._encoding = encoding
        self._carry = b""

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        return self._run(self._carry + chunk if self._carry else chunk, final=False)

    def finish(self) -> bytes:
        carry, self._carry = self._carry, b""
        return self._run(carry, final=True) if carry else b""

    def _run(self, buf: bytes, *, final: bool) -> bytes:
        out: list[bytes] = []
        n = len(buf)
        emitted = pos = done = 0
        while True:
            i = buf.find(b"://", pos)
            if i < 0:
                break
            if i >= 5 and buf[i - 5 : i].lower() == b"https":
                start = i - 5
            elif i >= 4 and buf[i - 4 : i].lower() == b"http":
                start = i - 4
            else:
                start = -1
            if start < done:  # no scheme, or one inside the URL before (that ended at the cap)
                pos = i + 1
                continue
            m = self._body.match(buf, i + 3)
            end = i + 3 if m is None else m.end()
            if end == n and not final and end - i - 3 < self._limit:
                self._carry = buf[start:]
                out.append(buf[emitted:start])
                return b"".join(out)
            pos = done = end
            # A URL cut at the cap goes on past it: its last bytes are not trailing punctuation.
            stop = end if end - i - 3 >= self._limit else trim_url(buf, start, i + 3, end)
            if stop == i + 3:
                continue
            url = buf[start:stop].decode(self._encoding, "replace")
            decision = self._decide(url)
            if decision is None or decision == url:
                continue
            out.append(buf[emitted:start])
            if decision is not STRIP:
                out.append(encode_url(decision, self._encoding))
            emitted = stop
        hold = n if final else max(done, emitted, n - _SCHEME_HOLD)
        self._carry = buf[hold:]
        if emitted == 0 and hold == n:
            return buf
        out.append(buf[emitted:hold])
        return b"".join(out)
