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
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from html.entities import html5 as _HTML5
from typing import Final

from .textrewrite import STRIP, Strip, TextLinkRewriter, UrlDecider, UrlDecision

__all__ = ["STRIP", "URL_ATTRIBUTES", "HtmlLinkRewriter", "Strip", "TextLinkRewriter", "UrlDecider", "UrlDecision"]

# element -> attribute -> kind: "url" (one URL), "srcset" (candidate list), "html" (a document)
URL_ATTRIBUTES: Final[dict[bytes, dict[bytes, str]]] = {
    b"a": {b"href": "url", b"xlink:href": "url"},
    b"area": {b"href": "url"},
    b"form": {b"action": "url"},
    b"button": {b"formaction": "url"},
    b"input": {b"formaction": "url"},
    b"iframe": {b"src": "url", b"srcdoc": "html"},
    b"img": {b"srcset": "srcset"},
    b"image": {b"srcset": "srcset"},
    b"source": {b"srcset": "srcset"},
}
_RAW_TEXT: Final = frozenset(
    {b"script", b"style", b"textarea", b"title", b"xmp", b"iframe", b"noembed", b"noframes", b"noscript", b"plaintext"}
)
_FOREIGN: Final = frozenset({b"svg", b"math"})
_SELECT_IGNORES: Final = _RAW_TEXT - {b"script", b"textarea"}  # start tags older parsers ignore in <select>
_SELECT_ENDS: Final = frozenset({b"input", b"keygen", b"textarea"})
_INTERESTING: Final = frozenset(URL_ATTRIBUTES) | _RAW_TEXT | _FOREIGN | {b"select", b"keygen"}
_MAX_NESTING: Final = 8
_ALPHA: Final = frozenset(range(0x41, 0x5B)) | frozenset(range(0x61, 0x7B))

_W = rb"\t\n\x0c\r "


def _ci(name: bytes) -> bytes:
    return b"".join(b"[%c%c]" % (c, c - 32) if 0x61 <= c <= 0x7A else re.escape(bytes((c,))) for c in name)


def _any_of(names: Iterable[bytes]) -> bytes:
    """Alternation in the given order (frequent first); a delimiter check must follow it."""
    return b"(?:" + b"|".join(_ci(n) for n in names) + b")"


def _not_named(names: frozenset[bytes]) -> bytes:
    """First letter of a tag name that is none of ``names`` (ASCII case-insensitive)."""
    firsts = sorted({n[0] for n in names})
    free = bytes(c for c in range(0x61, 0x7B) if c not in firsts)
    alts = [b"[" + free + free.upper() + b"]"]
    for f in firsts:
        rests = b"|".join(_ci(n[1:]) for n in sorted(names, key=len, reverse=True) if n[0] == f)
        alts.append(b"[%c%c](?!(?:%s)[%s/>])" % (f, f - 32, rests, _W))
    return b"(?:" + b"|".join(alts) + b")"


_VALUE = rb"""(?:"[^"]*+"|'[^']*+'|[^%(w)s>"'][^%(w)s>]*+|(?=>))""" % {b"w": _W}
_ATTRS = rb"(?:[%(w)s/]++|[^%(w)s/>][^%(w)s/>=]*+(?:[%(w)s]*+=[%(w)s]*+%(v)s|(?![%(w)s]*+=)))*+>" % {
    b"w": _W, b"v": _VALUE}


# Frequent tag names that need no attention, tried first because it is cheap (lower case only).
_COMMON: Final = frozenset(
    b"b br code dd div dl dt em footer h1 h2 h3 h4 h5 h6 header hr i label li link main meta nav ol p pre section "
    b"small span strong table tbody td th thead time tr u ul".split()
) - _INTERESTING


def _skip(end_tags: bytes) -> re.Pattern[bytes]:
    """Text, comments and complete tags that need no attention, matched in C."""
    return re.compile(
        rb"(?:[^<]++|<(?:/%(e)s[a-zA-Z0-9]*+>|%(c)s(?=[%(w)s/>])%(a)s|/%(e)s[^%(w)s/>]*+%(a)s|%(s)s[^%(w)s/>]*+%(a)s"
        rb"|(?=[^a-zA-Z!/?])|!--(?:-?>|(?:[^-]++|-(?!-!?>))*+--!?>)))*+"
        % {b"s": _not_named(_INTERESTING), b"e": end_tags, b"c": b"(?:" + b"|".join(sorted(_COMMON)) + b")",
           b"w": _W, b"a": _ATTRS}
    )


_SKIP: Final = _skip(b"[a-zA-Z]")
_SKIP_TRACKING: Final = _skip(_not_named(_FOREIGN | {b"select"}))  # inside svg/math/select
_ATTR: Final = re.compile(
    rb"""([%(w)s/]*+)(?:(>)|([^%(w)s/>][^%(w)s/>=]*+)(?:([%(w)s]*+=[%(w)s]*+)(?:"([^"]*+)"|'([^']*+)'"""
    rb"""|([^%(w)s>"'][^%(w)s>]*+)(?=[%(w)s>])|(?=>))|[%(w)s]*+(?=[^%(w)s=])))""" % {b"w": _W}
)
# A whole tag of a URL element with at most one URL-like attribute: the common case, in one match.
_URL_NAMES = _any_of([b"href", b"src", b"srcset", b"action", b"formaction", b"xlink:href", b"srcdoc"])
_OTHER_ATTRS = rb"(?:[%(w)s/]++|(?!%(u)s[%(w)s/>=])[^%(w)s/>][^%(w)s/>=]*+(?:[%(w)s]*+=[%(w)s]*+%(v)s|(?![%(w)s]*+=)))*+" % {
    b"w": _W, b"v": _VALUE, b"u": _URL_NAMES}
_URL_TAG: Final = re.compile(
    rb"""<(%(e)s)(?=[%(w)s/>])%(o)s(?:(%(u)s)(?=[%(w)s/>=])(?:([%(w)s]*+=[%(w)s]*+)(?:"([^"]*+)"|'([^']*+)'"""
    rb"""|([^%(w)s>"'][^%(w)s>]*+)|(?=>))|(?![%(w)s]*+=))%(o)s)?>"""
    % {b"e": _any_of([b"a", b"img", b"input", b"form", b"button", b"source", b"area", b"iframe", b"image"]), b"w": _W, b"o": _OTHER_ATTRS, b"u": _URL_NAMES}
)
_NOT_PLAIN: Final = bytes(range(0x21)) + b"&"  # a URL without these (and ASCII) needs no decoding
_TAG_NAME: Final = re.compile(rb"[^%s/>]*+" % _W)
_NAME_REST: Final = re.compile(rb"[^%s/>=]*+" % _W)
_SEP: Final = re.compile(rb"[%s/]*+" % _W)
_WS_RUN: Final = re.compile(rb"[%s]*+" % _W)
_UNQUOTED: Final = re.compile(rb"[^%s>]*+" % _W)
_COMMENT_END: Final = re.compile(rb"--!?>")
_CDATA_END: Final = re.compile(rb"\]\]>")
_RAW_END: Final = {n: re.compile(rb"</%s[%s/>]" % (_ci(n), _W)) for n in _RAW_TEXT if n != b"plaintext"}

_CHARREF: Final = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z0-9]+;?)")
_C0_SPACE: Final = "".join(map(chr, range(0x21)))
_TAB_NEWLINE: Final = str.maketrans("", "", "\t\n\r")
_SRCSET_UNSAFE: Final = re.compile(r"[\t\n\x0c\r ,]")
_SRCSET_WS: Final = "\t\n\x0c\r "

_DATA, _TAG, _TAG_NAME_LONG, _ATTR_REST, _COMMENT, _BOGUS, _RAW, _AMBIGUOUS = range(8)
_A_NAME, _A_AFTER, _A_VALUE, _A_DQ, _A_SQ, _A_UQ, _A_DONE = range(7)


def _match_end(pattern: re.Pattern[bytes], buf: bytes, pos: int) -> int:
    """End of a pattern that matches everywhere (possibly empty)."""
    m = pattern.match(buf, pos)
    return pos if m is None else m.end()


def _charref(m: re.Match[str]) -> str:
    ref = m.group(1)
    if ref[0] == "#":
        return html.unescape(m.group(0))
    if ref[-1] == ";":
        return _HTML5.get(ref, m.group(0))
    if ref in _HTML5 and m.string[m.end() : m.end() + 1] != "=":
        return _HTML5[ref]
    return m.group(0)  # in an attribute, "&copy=" and "&copyx" are not references


def attribute_text(raw: bytes, encoding: str = "utf-8") -> str:
    """An attribute value as the tokenizer gives it to the page (references decoded)."""
    text = raw.decode(encoding, "replace").replace("\x00", "\ufffd")
    return _CHARREF.sub(_charref, text) if "&" in text else text


def url_text(raw: bytes, encoding: str = "utf-8") -> str:
    """An attribute value as a browser's URL parser receives it."""
    if raw.isascii() and len(raw.translate(None, _NOT_PLAIN)) == len(raw):
        return raw.decode("ascii")
    key = (raw, encoding)
    text = _URL_TEXT_CACHE.get(key)
    if text is None:
        # Decoding references costs microseconds; pages repeat the same links on every view.
        text = attribute_text(raw, encoding).strip(_C0_SPACE).translate(_TAB_NEWLINE)
        if len(_URL_TEXT_CACHE) >= _URL_TEXT_CACHE_SIZE:
            _URL_TEXT_CACHE.clear()
        if len(raw) <= 2048:
            _URL_TEXT_CACHE[key] = text
    return text


_URL_TEXT_CACHE: dict[tuple[bytes, str], str] = {}
_URL_TEXT_CACHE_SIZE = 10_000


def srcset_candidates(value: str) -> list[tuple[int, int, int]]:
    """``(url_start, url_end, candidate_end)`` per candidate, split as HTML's srcset parser splits."""
    out: list[tuple[int, int, int]] = []
    pos, n = 0, len(value)
    while True:
        while pos < n and value[pos] in "\t\n\x0c\r ,":
            pos += 1
        if pos >= n:
            return out
        start = pos
        while pos < n and value[pos] not in "\t\n\x0c\r ":
            pos += 1
        end = pos
        if value[end - 1] == ",":
            end = len(value[start:end].rstrip(",")) + start
            out.append((start, end, end))
            continue
        depth = 0
        while pos < n and (value[pos] != "," or depth):
            depth = (depth or value[pos] == "(") and value[pos] != ")"
            pos += 1
        out.append((start, end, pos))
        pos += 1


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
        self._astate = _A_DONE
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
                end = _match_end(_TAG_NAME, buf, pos)
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
        skip = _SKIP_TRACKING if self._depth or self._in_select else _SKIP
        while True:
            m = skip.match(buf, pos)
            pos = pos if m is None else m.end()
            if pos >= n:
                return n
            if pos + 1 >= n:
                return self._need(buf, pos, final)
            c = buf[pos + 1]
            if c not in _ALPHA:
                break
            m = _URL_TAG.match(buf, pos)
            if m is None:
                return self._open_tag(buf, pos, pos + 1, final)
            # the common case in one match: a complete link tag with at most one attribute to look at
            tag, pos = m.group(1).lower(), m.end()
            if m.start(2) >= 0:
                name = m.group(2)
                kind = URL_ATTRIBUTES[tag].get(name.lower())
                if kind is not None:
                    self._url_attribute(buf, m, name, kind)
            if tag == b"iframe" or tag == b"input":
                self._tag, self._closing = tag, False
                return self._tag_end(pos, False)
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
                return self._open_ambiguous(pos + 9, _CDATA_END, 3, _BOGUS)
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
        m = _COMMENT_END.search(buf, pos)
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
        end = _match_end(_TAG_NAME, buf, start)
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

    def _url_attribute(self, buf: bytes, m: re.Match[bytes], name: bytes, kind: str) -> None:
        """The one URL attribute of a tag matched by _URL_TAG (no duplicates to mind)."""
        start, value = m.start(2), m.lastindex or 0
        if value == 2:  # a name alone: the tokenizer reads on over the spaces after it
            end, extent, raw = m.end(2), _match_end(_WS_RUN, buf, m.end(2)), b""
        else:
            end = extent = m.end(value) + (value == 4 or value == 5)  # after the closing quote
            raw = m.group(value) if value > 3 else b""
        if extent - start > self._cap:
            self._splice(buf, start, extent, b"")
            return
        new = self._rewrite(kind, name, raw)
        if new is not None:
            self._splice(buf, start, end, new)

    def _tag_step(self, buf: bytes, pos: int, final: bool) -> int:
        attrs, n = self._attrs, len(buf)
        while True:
            m = _ATTR.match(buf, pos)
            if m is None:
                if final:
                    return n
                if n - pos <= self._cap:
                    return self._hold(pos)
                q = _match_end(_SEP, buf, pos)
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
            if name in _FOREIGN and self._open[name]:
                self._open[name] -= 1
                self._depth -= 1
            elif name == b"select":
                self._in_select = False
        elif name in _FOREIGN:
            self._open[name] += not self_closing
            self._depth += not self_closing
        elif name in _RAW_TEXT:
            if self._depth == 0 and name in _SELECT_ENDS:
                self._in_select = False
            end = _RAW_END.get(name)
            if self._depth or name == b"noscript" or self._in_select and name in _SELECT_IGNORES:
                return self._open_ambiguous(pos, end, len(name) + 3, _DATA)
            self._mode, self._end, self._end_len, self._escape = _RAW, end, len(name) + 3, False
            if self._scripts and name in (b"script", b"style"):
                self._text = TextLinkRewriter(self._decide, encoding=self._encoding)
        elif self._depth == 0 and (name == b"select" or name in _SELECT_ENDS):
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
                url = value[start:end].strip(_C0_SPACE)
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
        return name + b'="' + html.escape(value).encode(self._encoding, "xmlcharrefreplace") + b'"'

    def _long_attr(self, buf: bytes, q: int) -> int:
        """An attribute longer than the cap: stream it; remove it whole if it is one we rewrite."""
        n = len(buf)
        name_end = _match_end(_NAME_REST, buf, q + 1)
        key = buf[q:name_end].lower() if name_end < n else None
        drop = key is not None and self._attrs is not None and key in self._attrs
        if drop and key is not None:
            self._seen[key] = True
        state, pos = self._advance(buf, q + 1, _A_NAME)
        if drop:
            self._splice(buf, q, pos, b"")
        if state != _A_DONE:
            self._mode, self._astate, self._drop = _ATTR_REST, state, drop
        return pos

    def _attr_rest(self, buf: bytes, pos: int) -> int:
        state, end = self._advance(buf, pos, self._astate)
        if self._drop:
            self._splice(buf, pos, end, b"")
        if state == _A_DONE:
            self._mode = _TAG
        self._astate = state
        return end

    @staticmethod
    def _advance(buf: bytes, pos: int, state: int) -> tuple[int, int]:
        """Follow the tokenizer's attribute states to the end of one attribute or of ``buf``."""
        n = len(buf)
        while pos < n:
            if state == _A_NAME or state == _A_AFTER:
                pos = _match_end(_NAME_REST if state == _A_NAME else _WS_RUN, buf, pos)
                if pos == n:
                    break
                if buf[pos] == 0x3D:
                    state, pos = _A_VALUE, pos + 1
                elif state == _A_NAME:
                    state = _A_AFTER
                else:
                    return _A_DONE, pos
            elif state == _A_VALUE:
                pos = _match_end(_WS_RUN, buf, pos)
                if pos == n:
                    break
                c = buf[pos]
                if c == 0x3E:
                    return _A_DONE, pos
                state, pos = (_A_DQ, pos + 1) if c == 0x22 else (_A_SQ, pos + 1) if c == 0x27 else (_A_UQ, pos)
            elif state == _A_UQ:
                pos = _match_end(_UNQUOTED, buf, pos)
                if pos < n:
                    return _A_DONE, pos
            else:
                end = buf.find(b'"' if state == _A_DQ else b"'", pos)
                if end < 0:
                    return state, n
                return _A_DONE, end + 1
        return state, pos

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
