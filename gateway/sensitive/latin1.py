"""RE2 over Latin-1 bytes, without the ``re2`` wrapper's work per match.

The scanner and the context words search text encoded to Latin-1 (one byte
per character, so byte offsets are character offsets) with RE2: a DFA,
linear in the text, no backtracking. The ``re2`` module's ``search`` and
``finditer`` build a match object per match in Python, which costs more
than RE2's own search over a short text; :class:`Regex` asks the compiled
pattern (the wrapper's ``_regexp``, as the wrapper itself does) for the span
of the match alone.
"""

from __future__ import annotations

import codecs

import re2

_UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED  # type: ignore[attr-defined]  # the C module has no stubs


def _stand_in(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    chunk = error.object[error.start:error.end]
    return "".join("0" if char.isdecimal() else "?" for char in chunk), error.end


codecs.register_error("gateway.sensitive.latin1", _stand_in)


def encode(text: str) -> bytes:
    """``text`` as Latin-1 bytes: the same offsets, each character outside Latin-1 a ``?``, or ``0`` if it is a digit.

    (Detectors' ``\\d`` matches the digits of every script: patterns over these bytes see them too.)
    """
    return text.encode("latin-1", "gateway.sensitive.latin1")


class Regex:
    """One RE2 pattern over Latin-1 bytes (``longest``: leftmost-longest matches, else leftmost-first)."""

    __slots__ = ("_match", "pattern")

    def __init__(self, pattern: str, *, longest: bool = False) -> None:
        options = re2.Options()
        options.encoding = re2.Options.Encoding.LATIN1  # type: ignore[attr-defined]  # missing from the stubs
        options.longest_match = longest
        compiled = re2.compile(pattern.encode("latin-1"), options)
        self.pattern = pattern
        self._match = compiled._regexp.Match  # type: ignore[attr-defined]

    def search(self, data: bytes, pos: int = 0, endpos: int | None = None) -> tuple[int, int] | None:
        """The span of the first match in ``data[pos:endpos]`` (offsets in ``data``), or None."""
        end = len(data) if endpos is None else max(0, min(endpos, len(data)))
        span: tuple[int, int] = self._match(_UNANCHORED, data, max(0, min(pos, end)), end)[0]
        return None if span[0] < 0 else span

    def spans(self, data: bytes, pos: int = 0, endpos: int | None = None) -> list[tuple[int, int]]:
        """The spans of the successive non-overlapping matches in ``data[pos:endpos]``."""
        end = len(data) if endpos is None else max(0, min(endpos, len(data)))
        pos = max(0, pos)
        match = self._match
        found: list[tuple[int, int]] = []
        while pos <= end:
            span: tuple[int, int] = match(_UNANCHORED, data, pos, end)[0]
            if span[0] < 0:
                break
            found.append(span)
            pos = span[1] if span[1] > span[0] else span[1] + 1
        return found
