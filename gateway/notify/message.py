"""Reading a notification: its raw header lines, decoded subject, texts and addressees (stdlib ``email``).

The message is parsed with ``email.policy.default``, which decodes RFC 2047
words, quoted-printable and base64 before anything is matched. Header lines
that are kept in a rewritten message are taken from the raw bytes instead, so
threading headers (Message-ID, References ...) go out byte for byte as the
helpdesk wrote them.
"""

from __future__ import annotations

import html
import re
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser

_FIELD_NAME = re.compile(rb"^([!-9;-~]+)[ \t]*:")
_TAGS = re.compile(r"<[^>]*>")
_SKIPPED_HTML = re.compile(r"(?is)<(script|style|head)\b.*?</\1\s*>")


class UnreadableMessage(ValueError):
    """The bytes are not a message the rewriter can read safely; ``reason`` is a stable word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def split_head(raw: bytes) -> tuple[bytes, bytes]:
    """The header section (without the blank line) and the body, for CRLF or LF line ends."""
    ends = [(index, length) for index, length in ((raw.find(b"\r\n\r\n"), 4), (raw.find(b"\n\n"), 2)) if index >= 0]
    if not ends:
        return raw, b""
    cut, length = min(ends)
    return raw[:cut], raw[cut + length:]


def header_fields(head: bytes) -> list[tuple[str, bytes]]:
    """The head's fields as (lower-case name, raw bytes including folded lines), in order."""
    fields: list[tuple[str, bytes]] = []
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + line)
            continue
        m = _FIELD_NAME.match(line)
        if m is None:
            raise UnreadableMessage("bad_header", "a header line without a field name")
        fields.append((m.group(1).decode("ascii").lower(), line))
    return fields


class Notification:
    """A parsed message: what the rules and templates read. Bodies are decoded only when asked for."""

    __slots__ = ("_raw", "_texts", "fields", "language", "names", "subject")

    def __init__(self, raw: bytes) -> None:
        head, _ = split_head(raw)
        self.fields = header_fields(head)
        self._raw = raw
        self._texts: tuple[str, ...] | None = None
        # The rules read headers only: the body (attachments and all) is parsed when a template needs it.
        headers = _parse(head + b"\r\n\r\n")
        self.subject = _header_text(headers, "subject")
        self.language = _language(headers)
        self.names = _display_names(headers)  # address (lower case) -> display name, from To and Cc

    def texts(self) -> tuple[str, ...]:
        """Decoded text/plain bodies, then the text of text/html bodies (for searching); UnreadableMessage."""
        if self._texts is None:
            self._texts = tuple(_texts(_parse(self._raw)))
        return self._texts

    def raw_fields(self, names: frozenset[str]) -> list[bytes]:
        """The raw lines of the fields named, in the original order, each ending in CRLF."""
        return [b"\r\n".join(raw.splitlines()) + b"\r\n" for name, raw in self.fields if name in names]


def _parse(raw: bytes) -> EmailMessage:
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:  # the parser is lenient; anything it raises means unreadable
        raise UnreadableMessage("unparsable", f"the message cannot be parsed ({type(exc).__name__})") from None
    if not isinstance(message, EmailMessage):
        raise UnreadableMessage("unparsable", "not a MIME message")
    return message


def _header_text(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a header the registry cannot parse
        raise UnreadableMessage("bad_header", f"the {name} header cannot be decoded") from None
    return "" if value is None else str(value)


def _texts(message: EmailMessage) -> list[str]:
    plain: list[str] = []
    rich: list[str] = []
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        if part.get_content_disposition() == "attachment":
            continue
        subtype = part.get_content_subtype()
        if subtype not in ("plain", "html"):
            continue
        try:
            content = part.get_content()
        except Exception:  # broken base64, an unknown charset
            raise UnreadableMessage("bad_body", f"a text/{subtype} part cannot be decoded") from None
        if not isinstance(content, str):
            raise UnreadableMessage("bad_body", f"a text/{subtype} part is not text")
        if subtype == "plain":
            plain.append(content)
        else:
            rich.append(content)
    return plain + [html_text(markup) for markup in rich]


def html_text(markup: str) -> str:
    """The visible text and the attribute values of HTML, entities decoded, for searching only."""
    without = _SKIPPED_HTML.sub(" ", markup)
    return html.unescape(_TAGS.sub(lambda m: " " + m.group(0)[1:-1] + " ", without))


def _language(message: Message) -> str | None:
    value = message.get("content-language")
    if value is None:
        return None
    first = str(value).split(",")[0].strip().lower()
    return first or None


def _display_names(message: EmailMessage) -> dict[str, str]:
    names: dict[str, str] = {}
    for header in ("to", "cc"):
        try:
            value = message.get(header)
            addresses: tuple[Address, ...] = getattr(value, "addresses", ()) if value is not None else ()
        except Exception:
            continue  # names are optional in templates; an unreadable list just has none
        for address in addresses:
            if address.addr_spec and address.display_name:
                names.setdefault(address.addr_spec.lower(), address.display_name)
    return names
