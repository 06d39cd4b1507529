"""Request bodies as a list of (field, text), and back with some texts replaced or some fields removed.

Four encodings: ``form`` (application/x-www-form-urlencoded: each value),
``multipart`` (multipart/form-data: fields without a filename; file parts are
never decoded), ``json`` (application/json and ``*+json``: every string leaf,
keys left alone) and ``text`` (text/plain: the whole body, field ``""``).

Re-encoding splices: only the bytes of a replaced value change, everything
else (other fields, file parts, boundaries, JSON whitespace and numbers)
stays byte for byte as the client sent it. A form or multipart field can be
removed whole (its ``name=value`` pair, or its part with its delimiter line);
JSON and text bodies have no fields to remove. A body that does not parse as its
Content-Type says raises :class:`Unreadable`; the caller decides (it cannot
check what it cannot read).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote_plus, unquote_to_bytes

import multipart  # type: ignore[import-untyped]
import orjson

ContentKind = Literal["form", "multipart", "json", "text"]

_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+|\s+', re.S)


class Unreadable(ValueError):
    """The body does not parse as its Content-Type says (the message names no content)."""


@dataclass(frozen=True, slots=True)
class Part:
    """One text of a body. ``field`` is the form field or the innermost JSON key (``""`` for a
    text/plain body or a top-level JSON string); ``path`` is the dotted JSON key path (else ``field``)."""

    field: str
    path: str
    text: str


@dataclass(frozen=True, slots=True)
class Decoded:
    """A body split into parts; ``encode`` gives it back with some parts' texts replaced."""

    kind: ContentKind
    parts: tuple[Part, ...]
    _source: bytes
    _spans: tuple[tuple[int, int], ...]
    _render: Callable[[str], bytes]
    _fields: tuple[tuple[int, int], ...] | None = None  # each part's whole field, where fields can be removed
    _delimiter: bytes = b""  # multipart: the boundary line

    def encode(self, replacements: Mapping[int, str], remove: Collection[int] = (),
               add: Sequence[tuple[str, str]] = ()) -> bytes:
        """The body with ``parts[i].text`` replaced by ``replacements[i]``, the fields of ``remove`` left out and
        the ``(name, value)`` fields of ``add`` added at the end; unchanged bytes elsewhere. ValueError when this
        kind of body has no fields to remove or add."""
        if not replacements and not remove and not add:
            return self._source
        if (remove or add) and self._fields is None:
            raise ValueError(f"a {self.kind} body has no fields to remove or add")
        edits: list[tuple[int, int, bytes]] = []
        for index in remove:
            start, end = self._fields[index]  # type: ignore[index]  # checked above
            edits.append((start, end, b""))
        for index, text in replacements.items():
            if index not in remove:
                start, end = self._spans[index]
                edits.append((start, end, self._render(text)))
        out: list[bytes] = []
        at = 0
        for start, end, data in sorted(edits):
            out += [self._source[at:start], data]
            at = end
        out.append(self._source[at:])
        body = b"".join(out)
        # A form whose first or last pair went leaves a stray "&": trim it (a pair in the middle took its own).
        if self.kind == "form" and remove:
            body = body.strip(b"&")
        for name, value in add:
            body = self._added(body, name, value)
        return body

    def _added(self, body: bytes, name: str, value: str) -> bytes:
        if self.kind == "form":
            pair = self._render(name) + b"=" + self._render(value)
            return body + b"&" + pair if body else pair
        # multipart: a part of its own before the closing delimiter.
        closing = body.rfind(self._delimiter + b"--")
        quoted = name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A").encode("utf-8")
        part = (self._delimiter + b'\r\nContent-Disposition: form-data; name="' + quoted + b'"\r\n\r\n'
                + self._render(value) + b"\r\n")
        return body[:closing] + part + body[closing:]


def kind_of(content_type: str) -> tuple[ContentKind | None, dict[str, str]]:
    """The encoding a Content-Type names (None: not one of the four), and its parameters."""
    mime, options = multipart.parse_options_header(content_type)
    mime = str(mime).lower()
    params = {str(k).lower(): str(v) for k, v in options.items()}
    if mime == "application/x-www-form-urlencoded":
        return "form", params
    if mime == "multipart/form-data":
        return "multipart", params
    if mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json")):
        return "json", params
    if mime == "text/plain":
        return "text", params
    return None, params


def decode(content_type: str, body: bytes, kinds: frozenset[str] | None = None) -> Decoded | None:
    """The body's parts, or None when its type is not one of ``kinds`` (absent: all four)."""
    kind, params = kind_of(content_type)
    if kind is None or (kinds is not None and kind not in kinds):
        return None
    if kind == "form":
        return _form(body)
    if kind == "multipart":
        return _multipart(body, params.get("boundary", ""))
    if kind == "json":
        return _json(body)
    return _text(body, params.get("charset", "utf-8"))


def _utf8(data: bytes) -> str:
    # surrogateescape: any bytes round-trip, so an untouched value is re-encoded as it came.
    return data.decode("utf-8", "surrogateescape")


def _form(body: bytes) -> Decoded:
    parts: list[Part] = []
    spans: list[tuple[int, int]] = []
    fields: list[tuple[int, int]] = []
    at = 0
    for pair in body.split(b"&"):
        name, eq, value = pair.partition(b"=")
        if eq:
            field = _utf8(unquote_to_bytes(name.replace(b"+", b" ")))
            parts.append(Part(field, field, _utf8(unquote_to_bytes(value.replace(b"+", b" ")))))
            start = at + len(name) + 1
            spans.append((start, start + len(value)))
            fields.append((at, min(len(body), at + len(pair) + 1)))  # the pair and the "&" after it
        at += len(pair) + 1
    return Decoded("form", tuple(parts), body, tuple(spans),
                   lambda text: quote_plus(text.encode("utf-8", "surrogateescape"), safe="*").encode("ascii"),
                   tuple(fields))


def _multipart(body: bytes, boundary: str) -> Decoded:
    if not boundary:
        raise Unreadable("the multipart body has no boundary")
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    segments = _segments(body, boundary)
    spans = _part_spans(body, delimiter)
    if len(spans) != len(segments):
        raise Unreadable("the multipart body is malformed")
    parts: list[Part] = []
    text_spans: list[tuple[int, int]] = []
    fields: list[tuple[int, int]] = []
    for (name, filename), span in zip(segments, spans):
        if filename is None:
            parts.append(Part(name, name, _utf8(body[span[0]:span[1]])))
            text_spans.append(span)
            # From the delimiter line that opens the part to the one that opens the next.
            opening = body.rfind(delimiter, 0, span[0])
            fields.append((opening, span[1] + 2))

    def render(text: str) -> bytes:
        data = text.encode("utf-8", "surrogateescape")
        if b"\r\n" + delimiter in b"\r\n" + data:
            raise ValueError("a replaced value would end the multipart part")
        return data

    return Decoded("multipart", tuple(parts), body, tuple(text_spans), render, tuple(fields), delimiter)


def _segments(body: bytes, boundary: str) -> list[tuple[str, str | None]]:
    """(name, filename) of each part, from a strict parser: what the upstream would see."""
    found: list[tuple[str, str | None]] = []
    try:
        parser = multipart.PushMultipartParser(boundary, strict=True)
        for event in [*parser.parse(body), *parser.parse(b"")]:
            if isinstance(event, multipart.MultipartSegment):
                found.append((str(event.name), None if event.filename is None else str(event.filename)))
        if not parser.closed or parser.error is not None:
            raise Unreadable("the multipart body is incomplete")
    except multipart.MultipartError:
        raise Unreadable("the multipart body is malformed") from None
    return found


def _part_spans(body: bytes, delimiter: bytes) -> list[tuple[int, int]]:
    """Where each part's content is: after its header block, up to the CRLF before the next delimiter."""
    spans: list[tuple[int, int]] = []
    pos = 0 if body.startswith(delimiter) else body.find(b"\r\n" + delimiter) + 2
    if pos == 1:
        return spans
    while True:
        end = pos + len(delimiter)
        if body[end:end + 2] == b"--":
            return spans
        line_end = body.find(b"\r\n", end)
        blank = body.find(b"\r\n\r\n", line_end)
        if line_end < 0 or blank < 0:
            return spans
        start = blank + 4
        following = body.find(b"\r\n" + delimiter, start)
        if following < 0:
            return spans
        spans.append((start, following))
        pos = following + 2


def _json(body: bytes) -> Decoded:
    try:
        orjson.loads(body)  # strict UTF-8 and syntax; the tokenizer below then cannot go wrong
    except orjson.JSONDecodeError:
        raise Unreadable("the JSON body is malformed") from None
    parts: list[Part] = []
    spans: list[tuple[int, int]] = []
    # One entry per open container: its key (the object's current key; None in an array).
    stack: list[list[Any]] = []  # [is_object, key, expecting_key]
    for match in _JSON_TOKEN.finditer(body):
        token = match.group()
        first = token[:1]
        if first == b'"':
            top = stack[-1] if stack else None
            if top is not None and top[0] and top[2]:
                top[1] = json.loads(token)
                top[2] = False
                continue
            keys = [str(entry[1]) for entry in stack if entry[0] and entry[1] is not None]
            field = keys[-1] if keys else ""
            parts.append(Part(field, ".".join(keys), json.loads(token)))
            spans.append(match.span())
        elif first == b"{":
            stack.append([True, None, True])
        elif first == b"[":
            stack.append([False, None, False])
        elif first in (b"}", b"]"):
            stack.pop()
        elif first == b"," and stack and stack[-1][0]:
            stack[-1][2] = True
    return Decoded("json", tuple(parts), body, tuple(spans),
                   lambda text: json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogateescape"))


def _text(body: bytes, charset: str) -> Decoded:
    try:
        codec = codecs.lookup(charset).name
        text = body.decode(codec)
    except (LookupError, UnicodeDecodeError):
        raise Unreadable("the text body is not in its declared charset") from None
    return Decoded("text", (Part("", "", text),), body, ((0, len(body)),), lambda new: new.encode(codec))
