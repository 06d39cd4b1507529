"""What the HTML link rewriter knows of HTML's syntax: element tables, compiled patterns, attribute values.

The patterns (and ``advance_attribute``, which follows one attribute across
chunks) follow the HTML tokenizer (see ``gateway.rewrite.html``): a tag name ends
at whitespace (``\\t \\n \\f \\r`` and space), ``/`` or ``>``; names compare
ASCII-case-insensitively; a quote opens a value only after ``=``. ``SKIP``
takes only complete constructs, so one cut by a chunk boundary is left for the
rewriter to carry over, and it stops at every tag that changes what the
rewriter does next. It is written for the cost model of Python's ``re``:
repeats are possessive (backtracking bookkeeping costs more than the
matching) and alternatives start with a character or a set where they can
(those are rejected without entering them).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from html.entities import html5 as _HTML5
from typing import Final

from ..lib.bounded import remember

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
RAW_TEXT: Final = frozenset(
    {b"script", b"style", b"textarea", b"title", b"xmp", b"iframe", b"noembed", b"noframes", b"noscript", b"plaintext"}
)
FOREIGN: Final = frozenset({b"svg", b"math"})
SELECT_IGNORES: Final = RAW_TEXT - {b"script", b"textarea"}  # start tags older parsers ignore in <select>
SELECT_ENDS: Final = frozenset({b"input", b"keygen", b"textarea"})
# Start tags that change what the rewriter does next; every other tag only passes through.
INTERESTING: Final = frozenset(URL_ATTRIBUTES) | RAW_TEXT | FOREIGN | {b"select", b"keygen"}

_W = rb"\t\n\x0c\r "
_URL_NAMES: Final = (b"href", b"src", b"srcset", b"action", b"formaction", b"xlink:href", b"srcdoc")

# (element, attribute) as the link tag pattern captures them -> kind ("" for none); other letter cases are looked up.
URL_KINDS: Final[dict[tuple[bytes, bytes], str]] = {
    (element, name): URL_ATTRIBUTES[element].get(name, "") for element in URL_ATTRIBUTES for name in _URL_NAMES
}


def _ci(name: bytes) -> bytes:
    return b"".join(b"[%c%c]" % (c, c - 32) if 0x61 <= c <= 0x7A else re.escape(bytes((c,))) for c in name)


def _any_of(names: Iterable[bytes]) -> bytes:
    """Alternation in the given order (frequent first); a delimiter check must follow it."""
    return b"(?:" + b"|".join(_ci(n) for n in names) + b")"


# First letters of ordinary tag names, most frequent first (p, td/tr/table, span/strong, b/br, i, ...):
# alternatives are tried in order.
_LETTER_ORDER: Final = b"ptsbiafmnkxcdeghjloqruvwyz"


def _not_named(names: frozenset[bytes]) -> bytes:
    """A tag name's first letter, where the name is none of ``names`` (ASCII case-insensitive)."""
    firsts = sorted({n[0] for n in names}, key=_LETTER_ORDER.index)
    free = bytes(c for c in range(0x61, 0x7B) if c not in firsts)
    alts = [b"[" + free + free.upper() + b"]"]  # one set test for letters no listed name starts with
    for f in firsts:
        rests = sorted((n[1:] for n in names if n[0] == f), key=len, reverse=True)
        # "a" alone is a name: a cheap lookahead first rejects "<a " before the rest is compared
        alone = b"(?=[^%s/>])" % _W if rests[-1] == b"" else b""
        alts.append(b"[%c%c]%s(?!(?:%s)[%s/>])" % (f, f - 32, alone, b"|".join(_ci(r) for r in rests if r), _W))
    return b"(?:" + b"|".join(alts) + b")"


_VALUE = rb"""(?:"[^"]*+"|'[^']*+'|[^%(w)s>"'][^%(w)s>]*+|(?=>))""" % {b"w": _W}
# An attribute; "=" right after the name, the usual form, is tried first.
_ONE_ATTR = rb"[^%(w)s/>][^%(w)s/>=]*+(?:=[%(w)s]*+%(v)s|[%(w)s][%(w)s]*+=[%(w)s]*+%(v)s|(?![%(w)s]*+=))" % {
    b"w": _W, b"v": _VALUE}
# The rest of a complete tag after its name: separators and attributes up to ">" (a bare ">" tried first).
_TAG_REST = rb"(?:>|[%(w)s/]*+(?:%(a)s[%(w)s/]*+)*+>)" % {b"w": _W, b"a": _ONE_ATTR}


def _link_tag(elements: Iterable[bytes]) -> bytes:
    """A whole tag of one of ``elements`` with at most one URL-like attribute: the common link, in one match.

    Groups: 1 element, 2 attribute name, 3 "=" with spaces, 4/5/6 double-quoted/single-quoted/unquoted value.
    """
    other = rb"(?:(?!%(u)s[%(w)s/>=])%(a)s[%(w)s/]*+)*+" % {b"w": _W, b"u": _any_of(_URL_NAMES), b"a": _ONE_ATTR}
    return (
        rb"""<(%(e)s)(?:>|[%(w)s/]++%(o)s(?:(%(u)s)(?:([%(w)s]*+=[%(w)s]*+)(?:"([^"]*+)"|'([^']*+)'"""
        rb"""|([^%(w)s>"'][^%(w)s>]*+)|(?=>))|(?=[%(w)s/>])(?![%(w)s]*+=))[%(w)s/]*+%(o)s)?+>)"""
        % {b"e": _any_of(elements), b"w": _W, b"o": other, b"u": _any_of(_URL_NAMES)}
    )


def _skip(end_tags: bytes, link_elements: Iterable[bytes]) -> re.Pattern[bytes]:
    """Text, comments and complete tags that need no attention, then a whole link tag if one follows.

    One match in C passes over everything between the tags the rewriter acts on;
    ``lastindex`` is None unless the link tag (groups 1-6) matched too.
    """
    return re.compile(
        rb"[^<]*+(?:<(?:/%(e)s[a-zA-Z0-9]*+>|/%(e)s[^%(w)s/>]*+%(r)s|%(s)s[^%(w)s/>]*+%(r)s"
        rb"|[^<a-zA-Z!/?]|!--(?:-?>|(?:[^-]++|-(?!-!?>))*+--!?>))[^<]*+)*+(?:%(t)s)?+"
        % {b"s": _not_named(INTERESTING), b"e": end_tags, b"w": _W, b"r": _TAG_REST, b"t": _link_tag(link_elements)}
    )


# Link elements, frequent first. An iframe starts raw text and an input may end a <select>: those take
# the rewriter's general path, so a link tag matched here never changes its state.
_LINKS: Final = (b"a", b"img", b"input", b"form", b"button", b"source", b"area", b"image")
SKIP: Final = _skip(b"[a-zA-Z]", _LINKS)  # outside svg/math/select, where an input changes nothing
SKIP_TRACKING: Final = _skip(_not_named(FOREIGN | {b"select"}), [e for e in _LINKS if e != b"input"])  # inside them
ATTR: Final = re.compile(
    rb"""([%(w)s/]*+)(?:(>)|([^%(w)s/>][^%(w)s/>=]*+)(?:([%(w)s]*+=[%(w)s]*+)(?:"([^"]*+)"|'([^']*+)'"""
    rb"""|([^%(w)s>"'][^%(w)s>]*+)(?=[%(w)s>])|(?=>))|[%(w)s]*+(?=[^%(w)s=])))""" % {b"w": _W}
)
TAG_NAME: Final = re.compile(rb"[^%s/>]*+" % _W)
NAME_REST: Final = re.compile(rb"[^%s/>=]*+" % _W)
SEP: Final = re.compile(rb"[%s/]*+" % _W)
WS_RUN: Final = re.compile(rb"[%s]*+" % _W)
_UNQUOTED: Final = re.compile(rb"[^%s>]*+" % _W)
COMMENT_END: Final = re.compile(rb"--!?>")
CDATA_END: Final = re.compile(rb"\]\]>")
RAW_END: Final = {n: re.compile(rb"</%s[%s/>]" % (_ci(n), _W)) for n in RAW_TEXT if n != b"plaintext"}


def match_end(pattern: re.Pattern[bytes], buf: bytes, pos: int) -> int:
    """End of a pattern that matches everywhere (possibly empty)."""
    m = pattern.match(buf, pos)
    return pos if m is None else m.end()


# The tokenizer's attribute states, for an attribute followed across chunks.
A_NAME, A_AFTER, A_VALUE, A_DQ, A_SQ, A_UQ, A_DONE = range(7)


def advance_attribute(buf: bytes, pos: int, state: int) -> tuple[int, int]:
    """Follow the tokenizer's attribute states to the end of one attribute or of ``buf``."""
    n = len(buf)
    while pos < n:
        if state == A_NAME or state == A_AFTER:
            pos = match_end(NAME_REST if state == A_NAME else WS_RUN, buf, pos)
            if pos == n:
                break
            if buf[pos] == 0x3D:
                state, pos = A_VALUE, pos + 1
            elif state == A_NAME:
                state = A_AFTER
            else:
                return A_DONE, pos
        elif state == A_VALUE:
            pos = match_end(WS_RUN, buf, pos)
            if pos == n:
                break
            c = buf[pos]
            if c == 0x3E:
                return A_DONE, pos
            state, pos = (A_DQ, pos + 1) if c == 0x22 else (A_SQ, pos + 1) if c == 0x27 else (A_UQ, pos)
        elif state == A_UQ:
            pos = match_end(_UNQUOTED, buf, pos)
            if pos < n:
                return A_DONE, pos
        else:
            end = buf.find(b'"' if state == A_DQ else b"'", pos)
            if end < 0:
                return state, n
            return A_DONE, end + 1
    return state, pos


# -- attribute values as the page and the URL parser read them ----------------

_CHARREF: Final = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z0-9]+;?)")
C0_SPACE: Final = "".join(map(chr, range(0x21)))
_TAB_NEWLINE: Final = str.maketrans("", "", "\t\n\r")


def _charref(m: re.Match[str]) -> str:
    ref = m.group(1)
    if ref[0] == "#":
        return html.unescape(m.group(0))
    if ref[-1] == ";":
        return _HTML5.get(ref, m.group(0))
    if ref in _HTML5 and m.string[m.end() : m.end() + 1] != "=":
        return _HTML5[ref]
    return m.group(0)  # in an attribute, "&copy=" and "&copyx" are not references


def tag_attributes(tag: bytes, encoding: str = "utf-8") -> dict[str, str]:
    """The attributes of a complete tag (``<form action="/x" method=post>``), as the page reads them:
    names in lower case, values decoded, the first of duplicates kept."""
    pos = match_end(TAG_NAME, tag, 1 + (tag[1:2] == b"/"))
    found: dict[str, str] = {}
    while pos < len(tag):
        m = ATTR.match(tag, pos)
        if m is None or m.group(2) is not None or m.end() == pos:
            break
        pos = m.end()
        if m.group(3) is None:
            continue
        name = m.group(3).decode(encoding, "replace").lower()
        raw = next((g for g in (m.group(5), m.group(6), m.group(7)) if g is not None), b"")
        found.setdefault(name, attribute_text(raw, encoding))
    return found


def attribute_text(raw: bytes, encoding: str = "utf-8") -> str:
    """An attribute value as the tokenizer gives it to the page (references decoded)."""
    text = raw.decode(encoding, "replace").replace("\x00", "\ufffd")
    return _CHARREF.sub(_charref, text) if "&" in text else text


def url_text(raw: bytes, encoding: str = "utf-8") -> str:
    """An attribute value as a browser's URL parser receives it."""
    if raw.isascii():
        plain = raw.decode("ascii")
        if plain.isprintable() and " " not in plain and "&" not in plain:  # nothing to decode, strip or remove
            return plain
    key = (raw, encoding)
    text = _URL_TEXT_CACHE.get(key)
    if text is None:
        # Decoding references costs microseconds; pages repeat the same links on every view.
        text = attribute_text(raw, encoding).strip(C0_SPACE).translate(_TAB_NEWLINE)
        if len(raw) <= 2048:
            remember(_URL_TEXT_CACHE, key, text, _URL_TEXT_CACHE_SIZE)
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
