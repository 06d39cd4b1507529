"""Streaming rewriter of an HTML page's text nodes and tags (pure: no aiohttp, no policy).

:class:`HtmlStreamRewriter` hands each text node, as a browser would show it
(character references decoded), to a ``mark`` callback and writes back what it
returns: spans of that text replaced by new HTML, or wrapped in an opening and
a closing tag. With a ``tag`` callback, each complete tag (up to
``max_tag_bytes``; a longer one passes without it) is handed over as its name,
whether it is an end tag, and its bytes; what it returns is inserted before
the tag (``tag_attributes`` reads the attributes as a browser does). Every
other byte stays as it was: tags and their attributes,
comments, doctypes, and the content of ``script style textarea title xmp
iframe noembed noframes noscript plaintext`` (ended by ``</name`` and space,
``/`` or ``>``, in any case), which is not shown as text or is edited by the
user. Nothing is marked inside ``<svg>`` or ``<math>`` (counted by their start
and end tags, as the link rewriter does): an HTML element there is not shown.

The callback also gets ``before``: the end of the text shown before this node
(the previous nodes, joined by a space, at most ``context`` characters), so
a context word in ``<b>CPR:</b> 010190-1234`` still counts. A value that a
tag cuts in two (``0101<b>90</b>-1234``) is not a text node's and is not seen.

Tags are followed through the tokenizer's attribute states (a quote opens a
value only after ``=``; ``htmlsyntax.advance_attribute``), so a ``>`` or a
``<`` inside a quoted attribute value is not taken for markup. Before the
first ``</body`` (or at the end of a page that had ``<html`` or ``<body``)
the ``at_body_end`` callback may insert a fragment once, knowing everything
marked above it.

Memory is bounded: a text node is held until its end, up to ``max_text_bytes``;
a longer one is cut at a line break or a space after a letter in its last
quarter (at worst at the limit) and the rest is held. Of a tag only the state
of its attribute and at most 16 bytes of its name are held; a raw-text end or
a comment end cut by a chunk boundary holds fewer than 12 bytes. Output never
depends on where chunks split, except that a text longer than the limit is
marked in pieces. The ``encoding`` must be ASCII-compatible; bytes it cannot
decode pass unchanged (surrogate escapes).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from html.entities import html5 as _HTML5
from typing import Final

from .htmlsyntax import A_DONE, A_NAME, FOREIGN, RAW_END, RAW_TEXT, SEP, TAG_NAME, advance_attribute

#: A span of the node's text and what it becomes: new HTML, or ``(open, close)`` HTML around the original.
Mark = tuple[int, int, "str | tuple[str, str]"]
TextHook = Callable[[str, str], Sequence[Mark]]
#: ``(name, is_end_tag, raw bytes)`` of a complete tag -> HTML to insert before it, or None.
TagHook = Callable[[bytes, bool, bytes], "bytes | None"]

# Data states.
_TEXT, _TAG, _RAW, _COMMENT, _BOGUS, _PLAIN = range(6)
_NAME_HOLD: Final = 16  # a longer tag name is none that matters here
_RAW_HOLD: Final = len(b"</noframes ") - 1
_TEXT_REF: Final = re.compile(r"&(?:#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z][A-Za-z0-9]*;?)")
_COMMENT_END: Final = re.compile(rb"--!?>")
_BODY_END: Final = b"body"
_OPEN_DOCUMENT: Final = frozenset({b"html", b"body"})
_LETTER: Final = re.compile(rb"[A-Za-z]")


class HtmlStreamRewriter:
    """A BodyRewriter passing every shown text node of a page through ``mark``."""

    def __init__(
        self,
        mark: TextHook | None = None,
        *,
        tag: TagHook | None = None,
        at_body_end: Callable[[], bytes] | None = None,
        encoding: str = "utf-8",
        context: int = 64,
        max_text_bytes: int = 65536,
        max_tag_bytes: int = 16384,
    ) -> None:
        "".encode(encoding)  # LookupError for an unknown encoding
        if "<".encode(encoding) != b"<":
            raise ValueError(f"{encoding} is not ASCII-compatible")
        self._mark = mark
        self._on_tag = tag
        self._max_tag = max_tag_bytes
        self._held: list[bytes] | None = None  # the tag so far, while it is held for ``tag``
        self._held_size = 0
        self._at_body_end = at_body_end
        self._encoding = encoding
        self._context = context
        self._max_text = max(256, max_text_bytes)
        self._state = _TEXT
        self._carry = b""  # bytes of an unfinished construct (text, a tag's name, a possible end)
        self._before = ""
        self._attr = A_DONE  # the attribute state inside a tag
        self._tag_name = b""
        self._tag_end = False
        self._raw_end: re.Pattern[bytes] | None = None
        self._foreign = 0
        self._document = False
        self._ended = False  # at_body_end was called

    def feed(self, chunk: bytes) -> bytes:
        return self._run(self._carry + chunk if self._carry else chunk, final=False)

    def finish(self) -> bytes:
        out = self._run(self._carry, final=True)
        if self._held is not None:  # an unfinished tag at the end: as it came (browsers drop it)
            out += b"".join(self._held)
            self._held = None
        if not self._ended and self._document and self._at_body_end is not None:
            self._ended = True
            out += self._at_body_end()
        return out

    # -- the states ------------------------------------------------------------------------------------

    def _run(self, buf: bytes, *, final: bool) -> bytes:
        self._carry = b""
        out: list[bytes] = []
        pos, n = 0, len(buf)
        while pos < n:
            state = self._state
            if state == _TEXT:
                pos = self._text(buf, pos, out, final)
            elif state == _TAG:
                pos = self._tag(buf, pos, out, final)
            elif state == _RAW:
                pos = self._raw(buf, pos, out, final)
            elif state == _COMMENT:
                pos = self._until(buf, pos, out, _COMMENT_END, 3, final)
            elif state == _BOGUS:
                pos = self._until_byte(buf, pos, out, b">")
            else:  # _PLAIN: the rest of the page is plaintext
                out.append(buf[pos:])
                pos = n
            if self._carry:
                break
        return b"".join(out)

    def _text(self, buf: bytes, pos: int, out: list[bytes], final: bool) -> int:
        n = len(buf)
        lt = buf.find(b"<", pos)
        opens: bool | None = False
        while lt >= 0:
            opens = _opens_markup(buf, lt, final)
            if opens is not False:
                break
            lt = buf.find(b"<", lt + 1)
        if lt >= 0 and opens:
            self._emit_text(buf[pos:lt], out)
            return self._markup(buf, lt, out, final)
        if final:
            self._emit_text(buf[pos:], out)
            return n
        held = buf[pos:]  # the text goes on in the next chunk (or a "<" there decides)
        if len(held) > self._max_text:
            cut = _cut(held, self._max_text)
            self._emit_text(held[:cut], out)
            held = held[cut:]
        self._carry = held
        return n

    def _markup(self, buf: bytes, lt: int, out: list[bytes], final: bool) -> int:
        """At a ``<`` that opens markup: a comment, a bogus comment, or a tag."""
        n = len(buf)
        nxt = buf[lt + 1]
        if nxt == 0x21:  # "!"
            if buf.startswith(b"<!--", lt) and n - lt < 6 and not final:
                self._carry = buf[lt:]  # "<!-->" and "<!--->" end at once
                return n
            if buf.startswith(b"<!--", lt):
                out.append(buf[lt:lt + 4])
                self._state = _COMMENT
                if buf.startswith(b">", lt + 4) or buf.startswith(b"->", lt + 4):  # <!--> and <!--->
                    end = lt + 5 if buf[lt + 4] == 0x3E else lt + 6
                    out.append(buf[lt + 4:end])
                    self._state = _TEXT
                    return end
                return lt + 4
            if n - lt < 4 and b"<!--".startswith(buf[lt:]) and not final:
                self._carry = buf[lt:]
                return n
        if nxt in (0x21, 0x3F) or (nxt == 0x2F and not _LETTER.fullmatch(buf[lt + 2:lt + 3])):
            if buf.startswith(b"</>", lt):  # nothing at all
                out.append(b"</>")
                return lt + 3
            self._state = _BOGUS
            out.append(buf[lt:lt + 2])
            return lt + 2
        # A start or end tag: read its name first.
        self._tag_end = nxt == 0x2F
        start = lt + (2 if self._tag_end else 1)
        m = TAG_NAME.match(buf, start)
        end = m.end() if m is not None else start
        if end == n and not final and end - start < _NAME_HOLD:
            self._carry = buf[lt:]
            return n
        self._tag_name = buf[start:end][:_NAME_HOLD].lower()
        if self._tag_end and self._tag_name == _BODY_END and not self._foreign:
            self._body_end(out)
        if self._on_tag is not None:
            self._held, self._held_size = [buf[lt:end]], end - lt
        else:
            out.append(buf[lt:end])
        self._state, self._attr = _TAG, A_DONE
        return end

    def _tag(self, buf: bytes, pos: int, out: list[bytes], final: bool) -> int:
        """Inside a tag, after its name: attributes until ``>``."""
        n = len(buf)
        start = pos
        while pos < n:
            if self._attr != A_DONE:
                self._attr, pos = advance_attribute(buf, pos, self._attr)
                continue
            pos = SEP.match(buf, pos).end()  # type: ignore[union-attr]  # matches everywhere
            if pos == n:
                break
            if buf[pos] == 0x3E:  # ">"
                self._emit_tag(buf[start:pos + 1], out, complete=True)
                self._close_tag(buf[pos - 1:pos] == b"/")
                return pos + 1
            self._attr = A_NAME
            pos += 1  # the name's first character (may be "=")
        self._emit_tag(buf[start:pos], out, complete=False)
        return pos

    def _emit_tag(self, data: bytes, out: list[bytes], *, complete: bool) -> None:
        held = self._held
        if held is None:
            out.append(data)
            return
        held.append(data)
        self._held_size += len(data)
        if complete:
            raw = b"".join(held)
            self._held = None
            assert self._on_tag is not None
            inserted = self._on_tag(self._tag_name, self._tag_end, raw)
            if inserted:
                out.append(inserted)
            out.append(raw)
        elif self._held_size > self._max_tag:
            out.extend(held)  # too long to hold: it passes without the hook
            self._held = None

    def _close_tag(self, self_closing: bool) -> None:
        name, end = self._tag_name, self._tag_end
        self._state = _TEXT
        if name in FOREIGN:
            if end:
                self._foreign = max(0, self._foreign - 1)
            elif not self_closing:
                self._foreign += 1
            return
        if end or self._foreign:
            return
        if name in _OPEN_DOCUMENT:
            self._document = True
        if name in RAW_TEXT:
            self._before = ""
            if name == b"plaintext":
                self._state = _PLAIN
            else:
                self._state, self._raw_end = _RAW, RAW_END[name]

    def _raw(self, buf: bytes, pos: int, out: list[bytes], final: bool) -> int:
        assert self._raw_end is not None
        return self._until(buf, pos, out, self._raw_end, _RAW_HOLD, final, through=False)  # the end tag is a tag

    def _until(self, buf: bytes, pos: int, out: list[bytes], end: re.Pattern[bytes], hold: int, final: bool,
               *, through: bool = True) -> int:
        """Pass bytes up to ``end`` (and through it, or not), then back to text; hold what may start ``end``."""
        m = end.search(buf, pos)
        if m is None:
            keep = 0 if final else min(hold, len(buf) - pos)
            cut = len(buf) - keep
            out.append(buf[pos:cut])
            self._carry = buf[cut:]
            return len(buf)
        stop = m.end() if through else m.start()
        out.append(buf[pos:stop])
        self._state = _TEXT
        return stop

    def _until_byte(self, buf: bytes, pos: int, out: list[bytes], end: bytes) -> int:
        i = buf.find(end, pos)
        if i < 0:
            out.append(buf[pos:])
            return len(buf)
        out.append(buf[pos:i + 1])
        self._state = _TEXT
        return i + 1

    def _body_end(self, out: list[bytes]) -> None:
        if not self._ended and self._at_body_end is not None:
            self._ended = True
            out.append(self._at_body_end())

    # -- text ------------------------------------------------------------------------------------------

    def _emit_text(self, raw: bytes, out: list[bytes]) -> None:
        if not raw:
            return
        if self._mark is None or self._foreign or raw.isspace():
            out.append(raw)
            return
        source = raw.decode(self._encoding, "surrogateescape")
        shown, spans = _decode_references(source)
        marks = self._mark(shown, self._before)
        self._before = (self._before + " " + shown)[-self._context:] if self._context else ""
        if not marks:
            out.append(raw)
            return
        pieces: list[str] = []
        at = 0
        for start, end, new in sorted(marks, key=lambda m: m[0]):
            a, b = _source_span(spans, start, end, len(source))
            if a < at or b <= a:
                continue  # overlapping or empty: keep the text as it was
            pieces.append(source[at:a])
            pieces.append(new if isinstance(new, str) else new[0] + source[a:b] + new[1])
            at = b
        pieces.append(source[at:])
        out.append("".join(pieces).encode(self._encoding, "surrogateescape"))


def _cut(held: bytes, limit: int) -> int:
    """Where to cut an overlong text: a line break, or a space after a letter, in its last quarter."""
    low = limit - limit // 4
    newline = held.rfind(b"\n", low, limit)
    if newline >= 0:
        return newline + 1
    for m in reversed(list(re.finditer(rb"[A-Za-z\x80-\xff] ", held[low:limit]))):
        return low + m.end()
    return limit


def _opens_markup(buf: bytes, lt: int, final: bool) -> bool | None:
    """Whether the ``<`` at ``lt`` opens markup; None when the next chunk decides."""
    nxt = buf[lt + 1:lt + 2]
    if not nxt:
        return False if final else None
    if nxt == b"/":
        return False if final and lt + 2 >= len(buf) else (None if lt + 2 >= len(buf) else True)
    return nxt in (b"!", b"?") or _LETTER.fullmatch(nxt) is not None


Spans = tuple[list[int], list[int]]


def _decode_references(source: str) -> tuple[str, Spans | None]:
    """The text as shown (character references decoded) and, when it differs, each shown character's source span."""
    if "&" not in source:
        return source, None
    shown: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    at = 0
    for m in _TEXT_REF.finditer(source):
        value, consumed = _reference(m.group())
        if value is None:
            continue
        shown.append(source[at:m.start()])
        starts.extend(range(at, m.start()))
        ends.extend(range(at + 1, m.start() + 1))
        shown.append(value)
        starts.extend([m.start()] * len(value))
        ends.extend([m.start() + consumed] * len(value))
        at = m.start() + consumed
    if at == 0:
        return source, None
    shown.append(source[at:])
    starts.extend(range(at, len(source)))
    ends.extend(range(at + 1, len(source) + 1))
    return "".join(shown), (starts, ends)


def _reference(ref: str) -> tuple[str | None, int]:
    """What a reference in text decodes to and how many characters of it that takes (None: not a reference)."""
    if ref.endswith(";") or ref.startswith("&#"):
        value = html.unescape(ref)
        return (None if value == ref else value), len(ref)
    name = ref[1:]
    for k in range(len(name), 0, -1):  # without ";": the longest legacy name it starts with
        legacy = _HTML5.get(name[:k])
        if legacy is not None:
            return legacy, k + 1
    return None, len(ref)


def _source_span(spans: Spans | None, start: int, end: int, length: int) -> tuple[int, int]:
    """The source span of the shown ``[start, end)``: a reference is replaced whole."""
    if spans is None:
        return start, end
    starts, ends = spans
    a = starts[start] if start < len(starts) else length
    b = ends[end - 1] if 0 < end <= len(ends) else length
    return a, b
