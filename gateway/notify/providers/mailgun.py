"""Mailgun messages (``POST /v3/{domain}/messages`` and ``/v3/{domain}/messages.mime``).

Both come as ``multipart/form-data`` or ``application/x-www-form-urlencoded``;
the rewritten form goes on in the encoding it came in.

``messages`` — kept: the addressing (``from``, ``to``, ``cc``, ``bcc``) and
the options that carry no content (``o:tag``, ``o:dkim``, delivery time,
test mode, TLS and sending IP options), threading headers and Reply-To
(``h:Message-Id``, ``h:In-Reply-To``, ``h:References``, ``h:Reply-To``).
Rewritten: ``subject``, ``text`` and ``html`` become the neutral texts;
``recipient-variables`` keeps its recipients (so a batch send stays one copy
per recipient, nobody sees the others' addresses) with their variables
emptied. Removed: ``amp-html``, ``attachment``, ``inline``, ``template`` with
``t:*`` (a provider-side template would be filled from those variables),
``v:*`` custom variables, other ``h:*`` headers and other options.
``o:tracking``, ``o:tracking-clicks`` and ``o:tracking-opens`` are forced to
``no``, so the provider cannot wrap the gateway's signed link.

``messages.mime`` — the ``message`` field goes through the MIME rewriter
with the ``to`` fields as recipients; the other fields are filtered as
above. One call carries one message for every recipient, so when the plan
has several copies (a passed one and hidden ones, or several hidden ones)
all recipients get one neutral copy, its link bound to no one: hiding from a
recipient meant to pass loses nothing the helpdesk does not show anyway,
while passing the original to anyone would reach the others.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr
from typing import Any
from urllib.parse import parse_qsl, urlencode

import multipart  # type: ignore[import-untyped]

from ..compose import KEPT_FIELDS, compose
from ..message import Notification, html_text
from ..rewriter import ApiContent, Notifier
from ..rules import Decision
from .base import ApiRequest, Provider, Rewritten, hidden_texts, strings_of

_KEPT_FIELDS = frozenset({
    "from", "to", "cc", "bcc", "o:tag", "o:dkim", "o:secondary-dkim", "o:secondary-dkim-public",
    "o:deliverytime", "o:deliverytime-optimize-period", "o:time-zone-localize", "o:testmode", "o:require-tls",
    "o:skip-verification", "o:sending-ip", "o:sending-ip-pool",
})
_KEPT_HEADERS = frozenset({"h:message-id", "h:in-reply-to", "h:references", "h:reply-to"})
_TRACKING_OFF = (("o:tracking", "no"), ("o:tracking-clicks", "no"), ("o:tracking-opens", "no"))
_URLENCODED = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class Field:
    """One form field; ``filename`` and ``content_type`` only for multipart file parts."""

    name: str
    value: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.value.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Form:
    fields: tuple[Field, ...]
    multipart: bool

    def values(self, name: str) -> list[str]:
        return [f.text for f in self.fields if f.name == name]

    def first(self, name: str) -> str:
        return next(iter(self.values(name)), "")

    def encode(self, fields: list[Field]) -> tuple[bytes, str]:
        """The form of ``fields`` in this form's encoding, and its Content-Type."""
        if not self.multipart:
            return urlencode([(f.name, f.text) for f in fields]).encode("ascii"), _URLENCODED
        boundary = secrets.token_hex(16)
        while any(boundary.encode() in f.value for f in fields):
            boundary = secrets.token_hex(16)
        out = bytearray()
        for f in fields:
            name = multipart.content_disposition_quote(f.name)
            out += f"--{boundary}\r\nContent-Disposition: form-data; name={name}".encode()
            if f.filename is not None:
                out += f"; filename={multipart.content_disposition_quote(f.filename)}".encode()
            out += b"\r\n"
            if f.content_type is not None:
                out += f"Content-Type: {f.content_type}\r\n".encode()
            out += b"\r\n" + f.value + b"\r\n"
        out += f"--{boundary}--\r\n".encode()
        return bytes(out), f"multipart/form-data; boundary={boundary}"


def parse_form(provider: Provider, request: ApiRequest) -> Form:
    """The request's form; a 400 in Mailgun's shape when it is malformed or of another type."""
    kind, options = multipart.parse_options_header(request.headers.get("Content-Type", ""))
    if kind == _URLENCODED:
        try:
            pairs = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=True,
                              errors="strict")
        except (ValueError, UnicodeDecodeError):
            raise provider.error(400, "the form is not valid urlencoded data", "bad_form") from None
        return Form(tuple(Field(name, value.encode("utf-8")) for name, value in pairs), False)
    if kind != "multipart/form-data":
        raise provider.error(400, "expected multipart/form-data or application/x-www-form-urlencoded",
                             "bad_form")
    boundary = options.get("boundary")
    if not boundary:
        raise provider.error(400, "the multipart form has no boundary", "bad_form")
    try:
        return Form(tuple(_multipart_fields(request.body, str(boundary))), True)
    except multipart.MultipartError:
        raise provider.error(400, "the multipart form is malformed", "bad_form") from None


def _multipart_fields(body: bytes, boundary: str) -> list[Field]:
    fields: list[Field] = []
    segment: Any = None
    chunks: list[bytes] = []
    parser = multipart.PushMultipartParser(boundary, strict=True)
    for event in [*parser.parse(body), *parser.parse(b"")]:
        if isinstance(event, multipart.MultipartSegment):
            segment, chunks = event, []
        elif isinstance(event, bytes):
            chunks.append(event)
        elif segment is not None:  # None: the segment ends
            content_type = segment.header("Content-Type", None)
            fields.append(Field(str(segment.name), b"".join(chunks),
                                None if segment.filename is None else str(segment.filename),
                                None if content_type is None else str(content_type)))
            segment = None
    if not parser.closed or parser.error is not None:
        raise multipart.ParserError("incomplete")
    return fields


def _recipients(form: Form) -> tuple[list[str], dict[str, str]]:
    recipients: list[str] = []
    names: dict[str, str] = {}
    for name, address in getaddresses([v for key in ("to", "cc", "bcc") for v in form.values(key)]):
        if address:
            recipients.append(address)
            if name:
                names.setdefault(address.lower(), name)
    return recipients, names


def _kept(form: Form, *, without: frozenset[str] = frozenset()) -> list[Field]:
    return [f for f in form.fields
            if f.name not in without and (f.name in _KEPT_FIELDS or f.name.lower() in _KEPT_HEADERS)]




def _json(provider: Provider, form: Form, name: str) -> Any:
    text = form.first(name)
    try:
        return json.loads(text) if text else None
    except ValueError:
        raise provider.error(400, f"'{name}' is not valid JSON", "bad_form") from None


def messages(provider: Provider, request: ApiRequest, notifier: Notifier) -> Rewritten:
    form = parse_form(provider, request)
    recipients, names = _recipients(form)
    if not recipients:
        raise provider.error(400, "'to' parameter is missing", "bad_form")
    sender = parseaddr(form.first("from"))[1]
    subject = form.first("subject")
    decisions = notifier.decide(recipients, sender, subject)
    variables = _json(provider, form, "recipient-variables")
    if variables is not None and not isinstance(variables, dict):
        raise provider.error(400, "'recipient-variables' must be a JSON object", "bad_form")
    bodies = form.values("text") + [html_text(v) for key in ("html", "amp-html") for v in form.values(key)]
    bodies += strings_of(_json(provider, form, "t:variables")) + strings_of(variables)
    bodies += [f.text for f in form.fields if f.name.startswith("v:")]
    neutral = hidden_texts(notifier, decisions, ApiContent(subject, tuple(bodies), None, names), recipients,
                           subject)
    if neutral is None:
        return Rewritten(request.body, decisions=decisions)
    fields = _kept(form)
    fields.append(Field("subject", (neutral.subject or "").encode("utf-8")))
    fields.append(Field("text", neutral.text.encode("utf-8")))
    if neutral.html is not None:
        fields.append(Field("html", neutral.html.encode("utf-8")))
    if variables is not None:  # the recipients only: Mailgun sends one copy each
        fields.append(Field("recipient-variables", json.dumps({key: {} for key in variables}).encode("utf-8")))
    fields += [Field(name, value.encode("ascii")) for name, value in _TRACKING_OFF]
    body, content_type = form.encode(fields)
    return Rewritten(body, content_type, decisions)


def _mime_sender(raw: bytes) -> str:
    try:
        return parseaddr(str(BytesHeaderParser(policy=policy.compat32).parsebytes(raw).get("From", "")))[1]
    except Exception:  # an unreadable From: the rewriter refuses the message itself if it cannot read it
        return ""


def messages_mime(provider: Provider, request: ApiRequest, notifier: Notifier) -> Rewritten:
    form = parse_form(provider, request)
    message = next((f for f in form.fields if f.name == "message"), None)
    if message is None:
        raise provider.error(400, "'message' parameter is missing", "bad_form")
    recipients = [address for _, address in getaddresses(form.values("to")) if address]
    if not recipients:
        raise provider.error(400, "'to' parameter is missing", "bad_form")
    plan = notifier.plan(message.value, _mime_sender(message.value), recipients)
    if all(d.action == "pass" for d in plan.decisions):
        return Rewritten(request.body, decisions=plan.decisions)
    if len(plan.deliveries) == 1:
        data = plan.deliveries[0].data
    else:
        data = _one_neutral_copy(notifier, message.value, plan.decisions)
    fields = _kept(form, without=frozenset({"from", "cc", "bcc"}))  # the message carries its own
    fields.append(Field("message", data, message.filename, message.content_type))
    fields += [Field(name, value.encode("ascii")) for name, value in _TRACKING_OFF]
    body, content_type = form.encode(fields)
    return Rewritten(body, content_type, plan.decisions)


def _one_neutral_copy(notifier: Notifier, raw: bytes, decisions: Sequence[Decision]) -> bytes:
    """The neutral message for every recipient at once, as the rewriter composes a hidden copy."""
    notification = Notification(raw)  # the plan read it already
    hidden = next(d for d in decisions if d.action == "hide")
    texts = notifier.neutral(notification, hidden, "")
    kept = KEPT_FIELDS | {"subject"} if texts.subject is None else KEPT_FIELDS
    return compose(notification.raw_fields(kept), texts.subject, texts.text, texts.html, notification.language)


class Mailgun(Provider):
    name = "mailgun"
    max_body_bytes = 30 * 1024 * 1024  # Mailgun's own limit on a message with its attachments
    operations = (
        ("POST", re.compile(r"/v3/[^/]+/messages"), messages),
        ("POST", re.compile(r"/v3/[^/]+/messages\.mime"), messages_mime),
    )
