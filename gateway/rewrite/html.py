"""Streaming link rewriter for HTML (pure: no aiohttp, no policy).

``HtmlLinkRewriter`` follows the HTML tokenizer, not a tree: it finds tags the
way a browser does (quotes only open a value after ``=``, ``<!-->`` is a whole
comment, ``</>`` is nothing, ``<![CDATA[`` in HTML is a bogus comment up to the
first ``>``), and hands the decider the URL of ``href`` on ``a``/``area``
(``xlink:href`` too, for SVG links), ``action`` on ``form``, ``formaction`` on
``button``/``input``, ``src`` on ``iframe``, each URL of ``srcset`` on
``img``/``image``/``source`` (descriptors kept), and the document in
``iframe srcdoc`` (rewritten by a nested rewriter). The decider sees the value
as a browser's URL parser would: character references decoded (the attribute
rules: ``&copy=1`` stays), NUL as U+FFFD, leading/trailing C0 and space
stripped, tab/CR/LF removed. A replacement is written in double quotes with
``& < > " '`` escaped; ``STRIP`` removes the attribute (an ``<a>`` keeps its
text) or one ``srcset`` candidate. Browsers use the first of duplicate
attributes: a later duplicate is removed when the first was changed, or when
the decider would change it. Every other byte stays as it was.

Nothing is rewritten in raw text (``script style textarea title xmp iframe
noembed noframes noscript plaintext``, ended by ``</name`` + space, ``/`` or
``>`` in any case), comments, doctypes or bogus comments. With
``rewrite_in_scripts`` the bare URLs in ``script``/``style`` text go through
a ``TextLinkRewriter``.

Where browsers may read the same bytes two ways, the output is made to read
the same both ways (fail closed). ``noscript`` (raw text with scripting on,
markup with it off), raw-text elements inside ``<svg>``/``<math>`` (markup
there, raw text at an integration point or after a breakout) and those inside
``<select>`` that older parsers ignore, and ``<![CDATA[`` in SVG/MathML: the
content up to the raw-text end is rewritten as markup when that markup is
complete at the end; otherwise, or beyond ``max_tag_bytes``, each ``<`` in
it becomes ``&lt;``. Foreign content is tracked by counting ``svg`` and
``math`` start and end tags, not by building a tree: misnested markup that
makes a browser ignore a ``</svg>`` (``<svg><foreignObject><div></svg>``)
leaves it in SVG while we count it out, and a later ``<style>`` there is then
read by us as raw text but by the browser as markup (a known gap). Script
data's ``<!--<script>`` escape states are not modelled; that only ever makes
us rewrite more (inside such a script).

Memory is bounded: only an unfinished construct is carried between chunks,
never more than about ``max_tag_bytes`` (one attribute, a tag name, ambiguous
content); comments and raw text stream through. An attribute longer than
that is streamed too; if it is one we rewrite it is removed whole (fail
closed), so a huge ``data:`` image stays and a huge ``href`` goes. Output
never depends on where chunks split. At the end of the body an unfinished tag
is emitted as it is (browsers drop it). The ``encoding`` must be
ASCII-compatible (ValueError otherwise; LookupError for an unknown name).

The element tables, the tokenizer's patterns and the reading of attribute
values are in ``htmlsyntax``; one match of its ``SKIP`` passes over all that
needs no attention (text, comments, ordinary tags) and takes the next common
link tag whole, so Python runs about once per link.

The module is one state machine (the tokenizer's states and their carry-over
across chunks) and stays whole; the character tables it reads are in
:mod:`gateway.rewrite.htmlsyntax`.
"""

from __future__ import annotations

import html
import re
from typing import Final

from .htmlsyntax import (
    A_DONE,
    A_NAME,
    ATTR,
    C0_SPACE,
    CDATA_END,
    COMMENT_END,
    FOREIGN,
    NAME_REST,
    RAW_END,
    RAW_TEXT,
    SELECT_ENDS,
    SELECT_IGNORES,
    SEP,
    SKIP,
    SKIP_TRACKING,
    TAG_NAME,
    URL_ATTRIBUTES,
    URL_KINDS,
    WS_RUN,
    advance_attribute,
    attribute_text,
    match_end,
    srcset_candidates,
    url_text,
)
from .text import STRIP, Strip, TextLinkRewriter, UrlDecider, UrlDecision

__all__ = [
    "STRIP", "URL_ATTRIBUTES", "HtmlLinkRewriter", "Strip", "TextLinkRewriter", "UrlDecider", "UrlDecision",
    "attribute_text", "srcset_candidates", "url_text",
]

_MAX_NESTING: Final = 8
_ALPHA: Final = frozenset(range(0x41, 0x5B)) | frozenset(range(0x61, 0x7B))
_SRCSET_UNSAFE: Final = re.compile(r"[\t\n\x0c\r ,]")
_SRCSET_WS: Final = "\t\n\x0c\r "

_DATA, _TAG, _TAG_NAME_LONG, _ATTR_REST, _COMMENT, _BOGUS, _RAW, _AMBIGUOUS = range(8)


class HtmlLinkRewriter:
    """Rewrites the links of an HTML body while it streams (a BodyRewriter)."""

    def __init__(
        self,
        decide: UrlDecider,
        *,
        rewrite_in_scripts: bool = False,
        max_tag_bytes: int = 64 * 1024,
        encoding: str = "utf-8",
    ) -> None:
        if max_tag_bytes < 64:
            raise ValueError("max_tag_bytes must be at least 64")
        if "<a x='&\"'>".encode(encoding) != b"<a x='&\"'>":
            raise ValueError(f"{encoding!r} is not ASCII-compatible")
        self._decide = decide
        self._scripts = rewrite_in_scripts
        self._cap = max_tag_bytes
        self._encoding = encoding
        self._level = 0  # nesting of srcdoc documents and ambiguous content
        self._buf = b""
        self._mode = _DATA
        self._depth = 0  # open svg and math elements, as counted (an end tag closes only its own name)
        self._open = {b"svg": 0, b"math": 0}
        self._in_select = False
        self._tag = b""
        self._closing = False
        self._attrs: dict[bytes, str] | None = None
        self._seen: dict[bytes, bool] = {}  # URL attribute of this tag -> its first copy was changed
        self._astate = A_DONE
        self._drop = False
        self._end: re.Pattern[bytes] | None = None
        self._end_len = 0
        self._escape = False
        self._text: TextLinkRewriter | None = None
        self._markup_mode = _DATA
        self._out: list[bytes] = []
        self._emitted = 0
        self._held = 0

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        return self._run(self._buf + chunk if self._buf else chunk, final=False)

    def finish(self) -> bytes:
        buf, self._buf = self._buf, b""
        out = self._run(buf, final=True) if buf else b""
        if self._text is not None:
            out += self._text.finish()
            self._text = None
        return out

    # -- the run loop --------------------------------------------------------

    def _run(self, buf: bytes, *, final: bool) -> bytes:
        out: list[bytes] = []
        self._out = out
        self._emitted = 0
        n = len(buf)
        pos = 0
        while pos < n:
            mode = self._mode
            if mode == _DATA:
                pos = self._data(buf, pos, final)
            elif mode == _TAG:
                pos = self._tag_step(buf, pos, final)
            elif mode == _RAW:
                pos = self._raw(buf, pos, final)
            elif mode == _COMMENT:
                pos = self._comment(buf, pos, final)
            elif mode == _BOGUS:
                pos = self._bogus(buf, pos)
            elif mode == _AMBIGUOUS:
                pos = self._ambiguous(buf, pos, final)
            elif mode == _ATTR_REST:
                pos = self._attr_rest(buf, pos)
            else:
                end = match_end(TAG_NAME, buf, pos)
                if end < n:
                    self._mode = _TAG
                pos = end
            if pos < 0:
                break
        hold = self._held if pos < 0 else n
        self._buf = buf[hold:]
        if not out and hold == n and self._emitted == 0:
            return buf
        out.append(buf[self._emitted : hold])
        return b"".join(out)

    def _hold(self, pos: int) -> int:
        self._held = pos
        return -1

    def _need(self, buf: bytes, pos: int, final: bool) -> int:
        """Too few bytes to tell what starts at ``pos``; at the end they stay as they are."""
        return len(buf) if final else self._hold(pos)

    def _splice(self, buf: bytes, start: int, stop: int, data: bytes) -> None:
        if start > self._emitted:
            self._out.append(buf[self._emitted : start])
        if data:
            self._out.append(data)
        self._emitted = stop

    # -- data, comments ------------------------------------------------------

    def _data(self, buf: bytes, pos: int, final: bool) -> int:
        n = len(buf)
        skip = SKIP_TRACKING if self._depth or self._in_select else SKIP
        while True:
            m = skip.match(buf, pos)
            assert m is not None  # it matches the empty string
            pos, value = m.end(), m.lastindex
            if value is None:
                break
            # it ended with a whole link tag: the common case, one match from link to link
            if value > 1:
                self._url_attribute(buf, m, value)
        if pos >= n:
            return n
        if pos + 1 >= n:
            return self._need(buf, pos, final)
        c = buf[pos + 1]
        if c in _ALPHA:  # a tag the link tag pattern did not take whole
            return self._open_tag(buf, pos, pos + 1, final)
        if c == 0x2F:  # "</"
            if pos + 2 >= n:
                return self._need(buf, pos, final)
            c = buf[pos + 2]
            if c in _ALPHA:
                return self._open_tag(buf, pos, pos + 2, final)
            return pos + 3 if c == 0x3E else self._bogus(buf, pos + 2)
        if c == 0x21:  # "<!"
            if buf.startswith(b"<!--", pos):
                return self._comment_open(buf, pos, final)
            if self._depth and buf.startswith(b"<![CDATA[", pos):
                return self._open_ambiguous(pos + 9, CDATA_END, 3, _BOGUS)
            if n - pos < 9 and (b"<!--".startswith(buf[pos:]) or self._depth and b"<![CDATA[".startswith(buf[pos:])):
                return self._need(buf, pos, final)
            return self._bogus(buf, pos + 2)
        return self._bogus(buf, pos + 1) if c == 0x3F else pos + 1

    def _comment_open(self, buf: bytes, pos: int, final: bool) -> int:
        n, p = len(buf), pos + 4
        if p < n and buf[p] == 0x3E:  # "<!-->"
            return p + 1
        if p + 1 < n and buf[p] == 0x2D and buf[p + 1] == 0x3E:  # "<!--->"
            return p + 2
        if not final and (p >= n or p + 1 >= n and buf[p] == 0x2D):
            return self._hold(pos)
        self._mode = _COMMENT
        return p

    def _comment(self, buf: bytes, pos: int, final: bool) -> int:
        m = COMMENT_END.search(buf, pos)
        if m is not None:
            self._mode = _DATA
            return m.end()
        n = len(buf)
        return n if final else self._hold(max(pos, n - 3))

    def _bogus(self, buf: bytes, pos: int) -> int:
        end = buf.find(b">", pos)
        if end >= 0:
            self._mode = _DATA
            return end + 1
        self._mode = _BOGUS
        return len(buf)

    # -- tags ----------------------------------------------------------------

    def _open_tag(self, buf: bytes, lt: int, start: int, final: bool) -> int:
        n = len(buf)
        end = match_end(TAG_NAME, buf, start)
        name = buf[start:end].lower()
        if end >= n:
            if final or n - lt <= self._cap:
                return self._need(buf, lt, final)
            name, self._mode = b"", _TAG_NAME_LONG  # no tag we look at has so long a name
        else:
            self._mode = _TAG
        self._tag, self._closing = name, start - lt == 2
        self._attrs = None if self._closing else URL_ATTRIBUTES.get(name)
        if self._attrs is not None:
            self._seen = {}
        return end

    def _url_attribute(self, buf: bytes, m: re.Match[bytes], value: int) -> None:
        """The one URL-like attribute of a link tag matched whole by SKIP (no duplicates to mind)."""
        tag, name = m[1], m[2]  # (indexing costs less than group())
        kind = URL_KINDS.get((tag, name))
        if kind is None:  # not in lower case
            kind = URL_ATTRIBUTES[tag.lower()].get(name.lower(), "")
        if not kind:
            return
        start = m.start(2)
        if value > 3:
            raw = m[value]
            end = extent = m.end(value) + (value < 6)  # after a closing quote
        elif value == 3:  # "name=" right before ">"
            raw, end = b"", m.end(3)
            extent = end
        else:  # a name alone: the tokenizer reads on over the spaces after it
            raw, end = b"", m.end(2)
            extent = match_end(WS_RUN, buf, end)
        if extent - start > self._cap:
            self._splice(buf, start, extent, b"")
            return
        if kind == "url":  # _rewrite's first case, inline: nearly every link
            url = raw.decode("ascii") if raw.isascii() else ""
            if not (url and url.isprintable() and " " not in url and "&" not in url):  # url_text's fast case, inline
                url = url_text(raw, self._encoding)
            decision = self._decide(url)
            if decision is None or decision == url:
                return
            new: bytes | None = b"" if decision is STRIP else self._written(name, decision)
        else:
            new = self._rewrite(kind, name, raw)
        if new is not None:
            self._splice(buf, start, end, new)

    def _tag_step(self, buf: bytes, pos: int, final: bool) -> int:
        attrs, n = self._attrs, len(buf)
        while True:
            m = ATTR.match(buf, pos)
            if m is None:
                if final:
                    return n
                if n - pos <= self._cap:
                    return self._hold(pos)
                q = match_end(SEP, buf, pos)
                if q >= n:
                    return self._hold(n - 1)  # the last separator may be the "/" of "/>"
                return self._hold(q) if n - q <= self._cap else self._long_attr(buf, q)
            if m.start(2) >= 0:
                return self._tag_end(m.end(), m.group(1).endswith(b"/"))
            if attrs is not None:
                name = m.group(3)
                kind = attrs.get(name.lower())
                if kind is not None:
                    dq, sq, uq = m.group(5, 6, 7)
                    raw = dq if dq is not None else sq if sq is not None else uq if uq is not None else b""
                    end = m.end(3) if m.start(4) < 0 else m.end()
                    self._attribute(buf, m.start(3), end, m.end(), raw, name, kind)
            pos = m.end()

    def _tag_end(self, pos: int, self_closing: bool) -> int:
        name, self._mode = self._tag, _DATA
        if self._closing:
            if name in FOREIGN and self._open[name]:
                self._open[name] -= 1
                self._depth -= 1
            elif name == b"select":
                self._in_select = False
        elif name in FOREIGN:
            self._open[name] += not self_closing
            self._depth += not self_closing
        elif name in RAW_TEXT:
            if self._depth == 0 and name in SELECT_ENDS:
                self._in_select = False
            end = RAW_END.get(name)
            if self._depth or name == b"noscript" or self._in_select and name in SELECT_IGNORES:
                return self._open_ambiguous(pos, end, len(name) + 3, _DATA)
            self._mode, self._end, self._end_len, self._escape = _RAW, end, len(name) + 3, False
            if self._scripts and name in (b"script", b"style"):
                self._text = TextLinkRewriter(self._decide, encoding=self._encoding)
        elif self._depth == 0 and (name == b"select" or name in SELECT_ENDS):
            self._in_select = name == b"select"
        return pos

    def _attribute(self, buf: bytes, start: int, end: int, extent: int, raw: bytes, name: bytes, kind: str) -> None:
        """A URL attribute: ``buf[start:end]`` is replaced; the tokenizer read it up to ``extent``."""
        key = name.lower()
        first = self._seen.get(key)
        if first or extent - start > self._cap:  # a later copy of a link we changed, or too long to judge
            self._seen[key] = True
            self._splice(buf, start, extent, b"")
            return
        new = self._rewrite(kind, name, raw)
        if first is None:
            self._seen[key] = new is not None
        elif new is not None:
            new = b""  # a copy browsers ignore, but one we would have changed: remove it
        if new is not None:
            self._splice(buf, start, end, new)

    def _rewrite(self, kind: str, name: bytes, raw: bytes) -> bytes | None:
        """The attribute's new text (empty: remove it), or None to keep it."""
        if kind == "url":
            url = url_text(raw, self._encoding)
            decision = self._decide(url)
            if decision is None or decision == url:
                return None
            return b"" if decision is STRIP else self._written(name, decision)
        if kind == "srcset":
            value = attribute_text(raw, self._encoding)
            candidates = srcset_candidates(value)
            parts, changed = [], False
            for start, end, stop in candidates:
                url = value[start:end].strip(C0_SPACE)
                decision = self._decide(url)
                if decision is None or decision == url:
                    parts.append(value[start:stop].rstrip(_SRCSET_WS))
                    continue
                changed = True
                if decision is not STRIP:
                    safe = _SRCSET_UNSAFE.sub(lambda c: f"%{ord(c.group()):02X}", decision)
                    parts.append(safe + value[end:stop].rstrip(_SRCSET_WS))
            if not changed:
                return None
            return self._written(name, ", ".join(parts)) if parts else b""
        if self._level >= _MAX_NESTING:
            return b""
        doc = attribute_text(raw, self._encoding).encode("utf-8")
        inner = self._nested("utf-8")
        new = inner.feed(doc) + inner.finish()
        return None if new == doc else self._written(name, new.decode("utf-8", "replace"))

    def _written(self, name: bytes, value: str) -> bytes:
        if "&" in value or "<" in value or ">" in value or '"' in value or "'" in value:  # rare; looking is cheaper
            value = html.escape(value)
        return name + b'="' + value.encode(self._encoding, "xmlcharrefreplace") + b'"'

    def _long_attr(self, buf: bytes, q: int) -> int:
        """An attribute longer than the cap: stream it; remove it whole if it is one we rewrite."""
        n = len(buf)
        name_end = match_end(NAME_REST, buf, q + 1)
        key = buf[q:name_end].lower() if name_end < n else None
        drop = key is not None and self._attrs is not None and key in self._attrs
        if drop and key is not None:
            self._seen[key] = True
        state, pos = advance_attribute(buf, q + 1, A_NAME)
        if drop:
            self._splice(buf, q, pos, b"")
        if state != A_DONE:
            self._mode, self._astate, self._drop = _ATTR_REST, state, drop
        return pos

    def _attr_rest(self, buf: bytes, pos: int) -> int:
        state, end = advance_attribute(buf, pos, self._astate)
        if self._drop:
            self._splice(buf, pos, end, b"")
        if state == A_DONE:
            self._mode = _TAG
        self._astate = state
        return end

    # -- raw text and ambiguous content --------------------------------------

    def _raw(self, buf: bytes, pos: int, final: bool) -> int:
        n, end = len(buf), self._end
        m = end.search(buf, pos) if end is not None else None
        done = m is not None or final
        stop = m.start() if m is not None else n if final else max(pos, n - self._end_len + 1)
        if self._escape:
            if buf.find(b"<", pos, stop) >= 0:
                self._splice(buf, pos, stop, buf[pos:stop].replace(b"<", b"&lt;"))
        elif self._text is not None:
            text = self._text.feed(buf[pos:stop])
            if done:
                text += self._text.finish()
                self._text = None
            if text != buf[pos:stop]:
                self._splice(buf, pos, stop, text)
        if m is not None:
            self._mode = _DATA
            return stop
        return n if final else self._hold(stop)

    def _open_ambiguous(self, pos: int, end: re.Pattern[bytes] | None, end_len: int, markup_mode: int) -> int:
        self._mode, self._end, self._end_len, self._markup_mode = _AMBIGUOUS, end, end_len, markup_mode
        return pos

    def _ambiguous(self, buf: bytes, pos: int, final: bool) -> int:
        """Content read as raw text by some browsers and as markup by others."""
        n, end = len(buf), self._end
        m = end.search(buf, pos) if end is not None else None
        if m is not None and m.start() - pos <= self._cap:
            self._resolve(buf, pos, m.start(), cut=True)
            self._mode = _DATA
            return m.start()
        if m is None and n - pos < self._cap + self._end_len:
            if not final:
                return self._hold(pos)
            self._resolve(buf, pos, n, cut=False)  # the body ends inside: nothing after it to read two ways
            return n
        self._mode, self._escape, self._text = _RAW, True, None  # too long to judge: "<" is text
        return pos

    def _resolve(self, buf: bytes, start: int, stop: int, *, cut: bool) -> None:
        content = buf[start:stop]
        new = content.replace(b"<", b"&lt;")
        if self._level < _MAX_NESTING:
            inner = self._nested(self._encoding)
            inner._mode, inner._depth, inner._in_select = self._markup_mode, self._depth, self._in_select
            inner._open = dict(self._open)
            markup = inner._run(content, final=not cut)
            if not cut:
                new = markup + inner.finish()
            elif inner._mode == _DATA and inner._buf in (b"", b"<"):  # the markup ends where the raw text does
                new = markup + inner._buf
        if new != content:
            self._splice(buf, start, stop, new)

    def _nested(self, encoding: str) -> HtmlLinkRewriter:
        inner = HtmlLinkRewriter(self._decide, rewrite_in_scripts=self._scripts, max_tag_bytes=self._cap, encoding=encoding)
        inner._level = self._level + 1
        return inner
